"""``python -m tgstat.flows.add_channel``: add a channel to collect, by its dialog title.

Uses the enabled session of ``--phone``; resolves the channel among that account's dialogs
(exact title, ``@username`` or numeric id) and inserts ``config__tg_channel`` (re-adding a
channel updates its name, never duplicates it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import connect_authorized, session_client
from tgstat.domain.errors import TgstatError
from tgstat.domain.model import ChannelConfig, SealedSession
from tgstat.flows.add_bot_session import normalize_phone
from tgstat.flows.bootstrap import bootstrap
from tgstat.flows.database import database_url
from tgstat.flows.secrets import sealer
from tgstat.flows.settings import Settings
from tgstat.ports.gateway import SessionBannedError
from tgstat.ports.repository import StatRepository


class NoSessionError(TgstatError):
    """Raised when the phone has no enabled session in the pool."""


async def find_session(repository: StatRepository, phone: str) -> SealedSession:
    async with repository.session() as s:
        for session in await s.enabled_sessions():
            if session.phone_number == phone:
                return session
    raise NoSessionError(
        f"no enabled session for phone ***{phone[-4:]}: add one with"
        " `python -m tgstat.flows.add_bot_session`"
    )


async def add_channel(
    phone: str, query: str, settings: Settings, *, client_class: Any = None
) -> ChannelConfig:
    """Resolve ``query`` with the phone's session and upsert the channel; return it.

    A dead session is marked banned (with reason and time) and SessionBannedError raised.
    The session file Telethon updated during the run is sealed and stored back.
    """
    seal = sealer(settings)
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app:
            stored = await find_session(app.repository, phone)
            assert stored.pk is not None
            if stored.session_bytes is None:
                raise NoSessionError(f"session {stored.pk} holds no Telegram session file")
            extra = {} if client_class is None else {"client_class": client_class}
            try:
                async with session_client(
                    seal.open(stored.session_bytes),
                    stored.api_id,
                    seal.open(stored.api_hash).decode(),
                    flood_sleep_threshold=settings.flood_sleep_threshold,
                    **extra,
                ) as handle:
                    await connect_authorized(handle.client)
                    info = await TelethonGateway(handle.client).resolve_channel(query)
            except SessionBannedError as e:
                async with app.repository.session() as s, s.transaction():
                    await s.mark_session_banned(stored.pk, str(e), datetime.now(UTC))
                raise
            channel = ChannelConfig(info.id, info.title, stored.pk, info.username)
            async with app.repository.session() as s, s.transaction():
                await s.upsert_channel(channel)
                if handle.session_file is not None:
                    await s.store_session_file(stored.pk, seal.seal(handle.session_file))
            return channel


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phone", required=True, help="phone of a stored session")
    parser.add_argument(
        "--channel", required=True, help='dialog title ("My channel"), @username or id'
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    channel = asyncio.run(add_channel(normalize_phone(args.phone), args.channel, settings))
    print(f"added channel {channel.name!r} (id {channel.channel_id})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from tgstat.flows.cli import run_command

    parser = argparse.ArgumentParser(
        prog="python -m tgstat.flows.add_channel", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
