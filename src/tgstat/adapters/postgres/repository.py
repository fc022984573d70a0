"""PostgresStatRepository: sessions assembled from the per-aggregate stores; the channel lock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg.pq import TransactionStatus

from tgstat.adapters.postgres.comments import PostgresCommentStore
from tgstat.adapters.postgres.connection import Pool, pooled_connection
from tgstat.adapters.postgres.followups import PostgresFollowUpStore
from tgstat.adapters.postgres.memberships import PostgresMembershipStore
from tgstat.adapters.postgres.posts import PostgresPostStore
from tgstat.adapters.postgres.sessions import PostgresChannelStore, PostgresSessionStore
from tgstat.adapters.postgres.snapshots import PostgresSnapshotStore
from tgstat.adapters.postgres.subscribers import PostgresSubscriberStore
from tgstat.domain.ids import ChannelId
from tgstat.ports.repository import ChannelBusyError, StatRepository, StatSession

# Advisory-lock keys are one bigint: a tgstat namespace in the top 16 bits, the channel id
# (< 2**48) below, so tgstat's locks do not collide with other users of advisory locks.
_LOCK_NAMESPACE = 0x7467 << 48


def channel_lock_key(channel_id: ChannelId) -> int:
    """The advisory-lock key of a channel's collection lock."""
    return _LOCK_NAMESPACE | channel_id


class PostgresStatSession(
    PostgresSessionStore,
    PostgresChannelStore,
    PostgresPostStore,
    PostgresSnapshotStore,
    PostgresCommentStore,
    PostgresFollowUpStore,
    PostgresSubscriberStore,
    PostgresMembershipStore,
    StatSession,
):
    """StatSession on one psycopg connection (autocommit outside ``transaction()``)."""


class PostgresStatRepository(StatRepository):
    """StatRepository over an open psycopg ``AsyncConnectionPool`` owned by the caller.

    The pool's connections must be in autocommit mode (``kwargs={"autocommit": True}``):
    transactions are opened explicitly by ``StatSession.transaction()``.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[StatSession]:
        async with pooled_connection(self._pool) as conn:
            yield PostgresStatSession(conn)

    @asynccontextmanager
    async def channel_session(self, channel_id: ChannelId) -> AsyncIterator[StatSession]:
        key = channel_lock_key(channel_id)
        async with pooled_connection(self._pool) as conn:
            # A session-level lock survives the cycle's several commits; the server drops
            # it by itself if this connection dies.
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            row = await cur.fetchone()
            if row is None or not row[0]:
                raise ChannelBusyError(f"channel {channel_id} is being collected by another run")
            try:
                yield PostgresStatSession(conn)
            finally:
                if not conn.closed and conn.info.transaction_status is TransactionStatus.IDLE:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                else:
                    # Broken or mid-transaction: closing drops the lock with the backend.
                    await conn.close()
