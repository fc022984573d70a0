"""tgstat: Telegram channel statistics into PostgreSQL.

A hexagonal library: ``tgstat.domain`` (pure rules), ``tgstat.ports`` (interfaces),
``tgstat.services`` (use cases), ``tgstat.adapters`` (Telethon, psycopg, Prefect REST, the
lake), ``tgstat.app`` (the composition root: settings, database, adapters built from
settings), ``tgstat.flows`` (Prefect flows and serving) and ``tgstat.cli`` (the command line).
"""

__version__ = "0.1.0"
