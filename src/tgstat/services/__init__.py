"""Async use cases over the ports: take ports and ``now``, call the domain, return reports.

No Prefect, Telethon, psycopg or httpx here.
"""

from tgstat.services.collect import CollectPolicy, CollectReport, collect_channel
from tgstat.services.followup import measure_followups

__all__ = ["CollectPolicy", "CollectReport", "collect_channel", "measure_followups"]
