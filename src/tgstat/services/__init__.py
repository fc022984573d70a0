"""Async use cases over the ports: take ports and ``now``, call the domain, return reports.

No Prefect, Telethon, psycopg or httpx here.
"""
