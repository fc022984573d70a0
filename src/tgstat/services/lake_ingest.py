"""What the lake does with an update from the Bot API, over the lake ports: keep it or
filter it by chat, store it under its day, and long-poll ``getUpdates`` from a saved offset.

Used by the webhook (``tgstat.adapters.starlette_webhook``) and ``tgstat lake poll``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from tgstat.domain.errors import TgstatError
from tgstat.domain.lake import chat_id_of, partition_day
from tgstat.ports.bot_api import BotApi, BotApiError
from tgstat.ports.lake import LakeStore

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
]
MAX_ATTEMPTS = 6
MAX_WAIT = timedelta(minutes=5)

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class OffsetFileError(TgstatError):
    """Raised when the saved getUpdates offset cannot be read or written."""


def wanted(update: Mapping[str, Any], chat_ids: frozenset[int] | None) -> bool:
    """True when the update is to be stored: no chat filter, or its chat is in it."""
    return chat_ids is None or chat_id_of(update) in chat_ids


async def store_update(
    store: LakeStore,
    update: Mapping[str, Any],
    update_id: int,
    body: bytes,
    arrived_at: datetime,
    zone: tzinfo,
) -> bool:
    """Store ``body`` under the update's day (off the event loop); False for a duplicate."""
    day = partition_day(update, arrived_at, zone)
    return await anyio.to_thread.run_sync(store.put_raw, day, update_id, body)


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
