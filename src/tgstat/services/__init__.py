"""Async use cases over the ports: take ports and ``now``, call the domain, return reports.

No Prefect, Telethon, psycopg or httpx here.
"""

from tgstat.services.collect import CollectPolicy, CollectReport, collect_channel

__all__ = ["CollectPolicy", "CollectReport", "collect_channel"]
