"""Session pool rows and configured channels: the SessionStore and ChannelStore ports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.ids import ChannelId, EventId, SessionPk
from tgstat.domain.model import ChannelConfig, SealedSession, SessionStatus
from tgstat.ports.channel_store import ChannelStore
from tgstat.ports.repository import UnknownChannelError, UnknownSessionError
from tgstat.ports.session_store import SessionStore

_SELECT_SESSIONS = """
SELECT pk, phone_number, api_id, api_hash, session_bytes, bot_token, status, status_reason
FROM config__tg_bot_session_pool
WHERE (%(pk)s::int8 IS NULL OR pk = %(pk)s) AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY pk
"""


_SELECT_CHANNELS = """
SELECT tg_channel_id, tg_channel_name, config__tg_bot_session_pool_pk, tg_channel_username,
       admin_log_cursor, last_collected_at
FROM config__tg_channel
WHERE %(c)s::int8 IS NULL OR tg_channel_id = %(c)s
ORDER BY tg_channel_id
"""


class PostgresSessionStore(PostgresConnection, SessionStore):
    """SessionStore over ``config__tg_bot_session_pool``."""

    async def upsert_session(self, session: SealedSession) -> SessionPk:
        self._require_transaction()
        rows = await self._fetchall(
            """
            INSERT INTO config__tg_bot_session_pool (
                phone_number, api_id, api_hash, session_bytes, bot_token, status,
                status_reason, status_changed_at)
            VALUES (%(phone)s, %(api_id)s, %(api_hash)s, %(session)s, %(bot)s, %(status)s,
                    %(reason)s, CASE WHEN %(status)s = 'enabled' THEN NULL ELSE now() END)
            ON CONFLICT (phone_number) DO UPDATE SET
                api_id = EXCLUDED.api_id, api_hash = EXCLUDED.api_hash,
                session_bytes = EXCLUDED.session_bytes, bot_token = EXCLUDED.bot_token,
                status = EXCLUDED.status, status_reason = EXCLUDED.status_reason,
                status_changed_at = CASE
                    WHEN config__tg_bot_session_pool.status = EXCLUDED.status
                    THEN config__tg_bot_session_pool.status_changed_at ELSE now() END,
                updated_at = now()
            RETURNING pk
            """,
            {
                "phone": session.phone_number,
                "api_id": session.api_id,
                "api_hash": session.api_hash,
                "session": session.session_bytes,
                "bot": session.bot_token,
                "status": session.status.value,
                "reason": session.status_reason,
            },
        )
        return SessionPk(rows[0][0])

    async def get_session(self, pk: SessionPk) -> SealedSession:
        rows = await self._fetchall(_SELECT_SESSIONS, {"pk": pk, "status": None})
        if not rows:
            raise UnknownSessionError(f"no session pool row with pk {pk}")
        return _to_session(rows[0])

    async def enabled_sessions(self) -> Sequence[SealedSession]:
        rows = await self._fetchall(
            _SELECT_SESSIONS, {"pk": None, "status": SessionStatus.ENABLED.value}
        )
        return [_to_session(row) for row in rows]

    async def mark_session_banned(self, pk: SessionPk, reason: str, at: datetime) -> None:
        self._require_transaction()
        async with self._conn.cursor() as cur:
            await cur.execute(
                "UPDATE config__tg_bot_session_pool SET status = 'banned',"
                " status_reason = %(reason)s, status_changed_at = %(at)s, updated_at = now()"
                " WHERE pk = %(pk)s",
                {"pk": pk, "reason": reason, "at": at},
            )
            if cur.rowcount == 0:
                raise UnknownSessionError(f"no session pool row with pk {pk}")

    async def store_session_file(self, pk: SessionPk, session_bytes: bytes) -> None:
        await self._execute(
            "UPDATE config__tg_bot_session_pool SET session_bytes = %(b)s, updated_at = now()"
            " WHERE pk = %(pk)s",
            {"pk": pk, "b": session_bytes},
        )

    async def sealed_session_count(self) -> int:
        rows = await self._fetchall(
            "SELECT count(*) FROM config__tg_bot_session_pool WHERE session_bytes IS NOT NULL", {}
        )
        return int(rows[0][0])


class PostgresChannelStore(PostgresConnection, ChannelStore):
    """ChannelStore over ``config__tg_channel``."""

    async def upsert_channel(self, channel: ChannelConfig) -> None:
        await self._execute(
            """
            INSERT INTO config__tg_channel (
                tg_channel_id, tg_channel_name, tg_channel_username,
                config__tg_bot_session_pool_pk)
            VALUES (%(channel)s, %(name)s, %(username)s, %(session)s)
            ON CONFLICT (tg_channel_id) DO UPDATE SET
                tg_channel_name = EXCLUDED.tg_channel_name,
                tg_channel_username = EXCLUDED.tg_channel_username,
                config__tg_bot_session_pool_pk = EXCLUDED.config__tg_bot_session_pool_pk,
                updated_at = now()
            """,
            {
                "channel": channel.channel_id,
                "name": channel.name,
                "username": channel.username,
                "session": channel.session_pk,
            },
        )

    async def get_channel(self, channel_id: ChannelId) -> ChannelConfig:
        rows = await self._fetchall(_SELECT_CHANNELS, {"c": channel_id})
        if not rows:
            raise UnknownChannelError(f"channel {channel_id} is not configured")
        return _to_channel(rows[0])

    async def list_channels(self) -> Sequence[ChannelConfig]:
        rows = await self._fetchall(_SELECT_CHANNELS, {"c": None})
        return [_to_channel(row) for row in rows]

    async def mark_collected(self, channel_id: ChannelId, at: datetime) -> None:
        await self._execute(
            "UPDATE config__tg_channel"
            " SET last_collected_at = GREATEST(last_collected_at, %(at)s)"
            " WHERE tg_channel_id = %(c)s",
            {"c": channel_id, "at": at},
        )


def _to_session(row: Sequence[Any]) -> SealedSession:
    pk, phone, api_id, api_hash, session_bytes, bot_token, status, reason = row
    return SealedSession(
        phone_number=phone,
        api_id=api_id,
        api_hash=bytes(api_hash),
        session_bytes=None if session_bytes is None else bytes(session_bytes),
        bot_token=None if bot_token is None else bytes(bot_token),
        status=SessionStatus(status),
        status_reason=reason,
        pk=SessionPk(pk),
    )


def _to_channel(row: Sequence[Any]) -> ChannelConfig:
    channel_id, name, session_pk, username, cursor, last_collected_at = row
    return ChannelConfig(
        channel_id=ChannelId(channel_id),
        name=name,
        session_pk=SessionPk(session_pk),
        username=username,
        admin_log_cursor=EventId(cursor),
        last_collected_at=last_collected_at,
    )
