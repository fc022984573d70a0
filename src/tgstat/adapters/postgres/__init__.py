"""PostgreSQL: the StatRepository over psycopg 3 and an async pool, one module per aggregate.

One technology, one package: its stores share one connection base and its session class.
"""

from tgstat.adapters.postgres.connection import Pool
from tgstat.adapters.postgres.repository import (
    PostgresStatRepository,
    PostgresStatSession,
    channel_lock_key,
)

__all__ = [
    "Pool",
    "PostgresStatRepository",
    "PostgresStatSession",
    "channel_lock_key",
]
