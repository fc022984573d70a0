"""Telegram access for real runs: pick a live session of the pool, run, store it back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import attrs

from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import connect_authorized, session_client
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError
from tgstat.domain.model import ChannelConfig, SealedSession
from tgstat.ports.gateway import SessionBannedError
from tgstat.ports.repository import StatRepository
from tgstat.ports.secrets import Sealer


class NoUsableSessionError(TgstatError):
    """Raised when no enabled session of the pool can sign in."""


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
    extra = {} if client_class is None else {"client_class": client_class}
    for stored in candidates(channel, enabled):
        if stored.session_bytes is None or stored.pk is None:
            continue
        async with AsyncExitStack() as stack:
            handle = await stack.enter_async_context(
                session_client(
                    seal.open(stored.session_bytes),
                    stored.api_id,
                    seal.open(stored.api_hash).decode(),
                    flood_sleep_threshold=settings.flood_sleep_threshold,
                    **extra,
                )
            )
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
    raise NoUsableSessionError(
        f"no enabled session can reach channel {channel.name!r}: add one with"
        " `python -m tgstat.flows.add_bot_session`"
    )
