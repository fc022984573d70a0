"""Telegram access for real runs: pick a live session of the pool, run, store it back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import attrs

from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import (
    CorruptSessionError,
    SessionClient,
    connect_authorized,
    session_client,
)
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError
from tgstat.domain.model import ChannelConfig, SealedSession
from tgstat.ports.gateway import SessionBannedError
from tgstat.ports.repository import StatRepository
from tgstat.ports.secrets import Sealer


class NoUsableSessionError(TgstatError):
    """Raised when no enabled session of the pool can sign in."""


class ReplayChannelError(NoUsableSessionError):
    """Raised when a real run meets a channel only a ``tgstat replay`` placeholder holds."""


class UnreadableSessionError(TgstatError):
    """Raised when a stored session file is not a Telethon session (corrupt, or not one)."""


REPLAY_PHONE_PREFIX = "replay:"


def is_replay_placeholder(session: SealedSession) -> bool:
    """A session row ``tgstat replay`` registered: no Telegram session, nothing sealed."""
    return session.phone_number.startswith(REPLAY_PHONE_PREFIX)


@asynccontextmanager
async def stored_client(
    stored: SealedSession, seal: Sealer, settings: Settings, *, client_class: Any = None
) -> AsyncIterator[SessionClient]:
    """A client (not connected) over the stored session file, opened with ``seal``; a file
    that is not a Telethon session is UnreadableSessionError naming the (masked) phone."""
    assert stored.session_bytes is not None
    extra = {} if client_class is None else {"client_class": client_class}
    try:
        async with session_client(
            seal.open(stored.session_bytes),
            stored.api_id,
            seal.open(stored.api_hash).decode(),
            flood_sleep_threshold=settings.flood_sleep_threshold,
            **extra,
        ) as handle:
            yield handle
    except CorruptSessionError as e:  # raised on opening the file, before the block runs
        raise UnreadableSessionError(
            f"the stored session of phone ***{stored.phone_number[-4:]} (session {stored.pk})"
            f" is unreadable, {e}: sign that account in again with"
            " `python -m tgstat.flows.add_bot_session`"
        ) from e


@attrs.frozen
class LiveTelegram:
    """A gateway over a signed-in session, and which pool row it is."""

    gateway: TelethonGateway
    session: SealedSession


def candidates(channel: ChannelConfig, enabled: list[SealedSession]) -> list[SealedSession]:
    """The channel's own session first, then the other enabled ones (by pk)."""
    own = [s for s in enabled if s.pk == channel.session_pk]
    return own + [s for s in enabled if s.pk != channel.session_pk]


@asynccontextmanager
async def live_telegram(
    channel: ChannelConfig,
    repository: StatRepository,
    seal: Sealer,
    settings: Settings,
    *,
    client_class: Any = None,
) -> AsyncIterator[LiveTelegram]:
    """A TelethonGateway on the first session of ``candidates`` that proves alive.

    A session Telegram rejects is marked ``banned`` (reason, time) and the next is tried;
    none left -> NoUsableSessionError. On exit the session file (Telethon updates it) is
    sealed and stored back.
    """
    async with repository.session() as s:
        enabled = list(await s.enabled_sessions())
    for stored in candidates(channel, enabled):
        if stored.session_bytes is None or stored.pk is None:
            continue
        async with stored_client(stored, seal, settings, client_class=client_class) as handle:
            try:
                await connect_authorized(handle.client)
            except SessionBannedError as e:
                async with repository.session() as s, s.transaction():
                    await s.mark_session_banned(stored.pk, str(e), datetime.now(UTC))
                continue
            yield LiveTelegram(TelethonGateway(handle.client), stored)
        if handle.session_file is not None:
            async with repository.session() as s, s.transaction():
                await s.store_session_file(stored.pk, seal.seal(handle.session_file))
        return
    if any(is_replay_placeholder(s) for s in enabled if s.pk == channel.session_pk):
        raise ReplayChannelError(
            f"channel {channel.name!r} comes from a replay (`tgstat replay`): collecting it for"
            " real needs a signed-in session (`python -m tgstat.flows.add_bot_session`, then"
            " `tgstat add-channel`), or make it a dry run with TGSTAT_REPLAY_SCENARIO"
        )
    raise NoUsableSessionError(
        f"no enabled session can reach channel {channel.name!r}: add one with"
        " `python -m tgstat.flows.add_bot_session`"
    )
