"""tgstat: Telegram channel statistics into PostgreSQL.

A hexagonal library: ``tgstat.domain`` (pure rules), ``tgstat.ports`` (interfaces),
``tgstat.services`` (use cases), ``tgstat.adapters`` (Telethon, psycopg, Prefect REST) and
``tgstat.flows`` (settings, composition root, Prefect flows, CLI).
"""

__version__ = "0.1.0"
