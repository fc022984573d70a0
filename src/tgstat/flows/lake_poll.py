"""``tgstat lake poll`` and ``tgstat lake set-webhook``: the lake without a public endpoint.

``poll`` long-polls getUpdates into the same raw store as the webhook (same day and chat
rules). Each batch is stored before the offset moves past it, and the offset is saved to a
file atomically after each batch, so a restart neither loses nor duplicates updates: a
crash between storing and saving the offset re-reads the batch, and ``put_raw`` ignores
update ids already stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import attrs
import httpx

from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.telegram_bot_api import BotApiClient
from tgstat.domain.errors import TgstatError
from tgstat.flows.lake_webhook import secret_token, store_update, wanted
from tgstat.flows.settings import Settings
from tgstat.ports.bot_api import BotApi, BotApiError
from tgstat.ports.lake import LakeStore

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
]
API_URL = "https://api.telegram.org"
MAX_ATTEMPTS = 6
MAX_WAIT = timedelta(minutes=5)

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class BotTokenMissingError(TgstatError):
    """Raised when a command needs TGSTAT_BOT_TOKEN and it is unset."""


class OffsetFileError(TgstatError):
    """Raised when the saved getUpdates offset cannot be read or written."""


@attrs.frozen
class PollReport:
    """What ``poll`` did: batches read, updates received, stored, duplicate, filtered."""

    batches: int
    received: int
    stored: int
    duplicates: int
    filtered: int
    offset: int | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def poll(
    store: LakeStore,
    api: BotApi,
    *,
    offset_file: Path,
    zone: tzinfo,
    chat_ids: frozenset[int] | None,
    clock: Callable[[], datetime] = _utc_now,
    stop_after: int | None = None,
    timeout_s: int = 30,
    sleep: Sleep = asyncio.sleep,
) -> PollReport:
    """Long-poll from the saved offset, storing each batch before saving the next offset.

    Runs until ``stop_after`` batches (forever when None). Transient errors (no answer, 5xx,
    429) are retried up to MAX_ATTEMPTS times in a row, waiting at most MAX_WAIT each.
    """
    offset = read_offset(offset_file)
    batches = received = stored = duplicates = filtered = 0
    while stop_after is None or batches < stop_after:
        updates = await _get_updates(api, offset, timeout_s, sleep)
        arrived_at = clock()
        received += len(updates)
        for update_id, body in updates:
            update = json.loads(body)
            if not wanted(update, chat_ids):
                filtered += 1
            elif await store_update(store, update, update_id, body, arrived_at, zone):
                stored += 1
            else:
                duplicates += 1
        if updates:
            offset = max(update_id for update_id, _ in updates) + 1
            await asyncio.to_thread(save_offset, offset_file, offset)
            log.info("%d updates received, %d stored; next offset %d", received, stored, offset)
        batches += 1
    return PollReport(batches, received, stored, duplicates, filtered, offset)


async def _get_updates(
    api: BotApi, offset: int | None, timeout_s: int, sleep: Sleep
) -> list[tuple[int, bytes]]:
    attempt = 0
    while True:
        attempt += 1
        try:
            return await api.get_updates(offset, timeout_s, ALLOWED_UPDATES)
        except BotApiError as e:
            wait = e.retry_after if e.retry_after is not None else 2.0**attempt
            if not e.transient or attempt >= MAX_ATTEMPTS or wait > MAX_WAIT.total_seconds():
                raise
            log.warning("getUpdates failed (%s); retrying in %.0f s", e, wait)
            await sleep(wait)


def read_offset(path: Path) -> int | None:
    """The saved offset; None when none was saved yet."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise OffsetFileError(f"cannot read the getUpdates offset from {path}: {e}") from e
    try:
        return int(text)
    except ValueError:
        raise OffsetFileError(
            f"{path} holds {text[:40]!r}, not a getUpdates offset; fix or delete it"
        ) from None


def save_offset(path: Path, offset: int) -> None:
    """Replace the saved offset atomically (temp file, fsync, rename, fsync the directory)."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temp.open("w", encoding="ascii") as out:
            out.write(f"{offset}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise OffsetFileError(f"cannot save the getUpdates offset to {path}: {e}") from e


def _bot_token(settings: Settings) -> str:
    if settings.bot_token is None:
        raise BotTokenMissingError("TGSTAT_BOT_TOKEN is not set: the Bot API needs the bot token")
    return settings.bot_token


def _client(token: str) -> httpx.AsyncClient:
    # httpx logs every request URL at INFO, and the URL holds the token: keep them quiet.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return httpx.AsyncClient(base_url=f"{API_URL}/bot{token}/")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=int, default=30, help="long-poll timeout in seconds (default 30)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    token = _bot_token(settings)
    store = FsspecLakeStore(settings.lake_root)
    offset_file = settings.home / "lake-poll.offset"
    print(f"polling the Bot API into {settings.lake_root}; Ctrl-C stops", flush=True)

    async def main() -> PollReport:
        async with _client(token) as client:
            return await poll(
                store,
                BotApiClient(client),
                offset_file=offset_file,
                zone=zoneinfo.ZoneInfo(settings.lake_tz),
                chat_ids=settings.bot_chat_ids,
                timeout_s=args.timeout,
            )

    asyncio.run(main())
    return 0


def add_set_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the webhook's public HTTPS URL (.../telegram/webhook)")


def set_webhook_run(args: argparse.Namespace, settings: Settings) -> int:
    token, secret = _bot_token(settings), secret_token(settings)

    async def main() -> None:
        async with _client(token) as client:
            await BotApiClient(client).set_webhook(args.url, secret, ALLOWED_UPDATES)

    asyncio.run(main())
    print(f"webhook set to {args.url} for {', '.join(ALLOWED_UPDATES)}")
    return 0
