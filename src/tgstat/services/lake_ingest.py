"""What the lake does with an update from the Bot API, over the lake ports: keep it or drop
it by chat (following migrations of kept chats), store it under its arrival day, count what
happened, and long-poll ``getUpdates`` from a saved offset.

Used by the webhook (``tgstat.adapters.starlette_webhook``) and ``tgstat lake poll``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from tgstat.domain.errors import TgstatError
from tgstat.domain.lake import UPDATE_KINDS, is_int, partition_day, update_kind
from tgstat.domain.lake_filter import ChatFilter, migrations_from_json, migrations_to_json
from tgstat.ports.bot_api import BotApi, BotApiError
from tgstat.ports.lake import LakeStore

ALLOWED_UPDATES = list(UPDATE_KINDS)
"""Every kind the lake stores: what ``set-webhook`` and ``poll`` ask Telegram for."""
MIGRATIONS_STATE = "chat-migrations.json"
"""The lake's ``state/`` document where followed chat migrations are remembered."""
UPDATE_IDS = range(0, 2**63)
"""The update_ids the lake stores: non-negative and within PostgreSQL/Parquet bigint (the
``update_id`` column is int64; Telegram's are positive and sequential). The file is named
after it, so at most 19 digits. An update with any other ``update_id`` (negative, beyond
bigint, a float, a string) is dropped: answered 200, logged and counted as ``invalid``."""
MAX_ATTEMPTS = 6
MAX_WAIT = timedelta(minutes=5)

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


class OffsetFileError(TgstatError):
    """Raised when the saved getUpdates offset cannot be read or written."""


class ChatFilterStateError(TgstatError):
    """Raised when the lake's remembered chat migrations cannot be read."""


class Outcome(enum.Enum):
    """What became of one update."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    DROPPED = "dropped"
    INVALID = "invalid"


@attrs.define
class IngestStats:
    """Counts of one ingest process (webhook or poller) since it started."""

    since: datetime
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    invalid: int = 0
    """Updates dropped because their ``update_id`` is not one of UPDATE_IDS."""
    dropped_by_kind: Counter[str] = attrs.field(factory=Counter)

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by_kind.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
            "dropped": self.dropped,
            "dropped_by_kind": dict(sorted(self.dropped_by_kind.items())),
        }


class ChatGate:
    """The chat filter of an ingest process: TGSTAT_BOT_CHAT_IDS (None: every chat) plus
    the migrations of kept chats, remembered in the lake's ``state/chat-migrations.json``
    so a restart (or the other of webhook and poller) keeps following them."""

    def __init__(self, store: LakeStore, chat_filter: ChatFilter | None) -> None:
        self._store = store
        self._filter = chat_filter
        self._lock = asyncio.Lock()

    @classmethod
    def open(cls, store: LakeStore, chat_ids: frozenset[int] | None) -> ChatGate:
        """The gate for ``chat_ids``, with the migrations the lake remembers."""
        if chat_ids is None:
            return cls(store, None)
        body = store.load_state(MIGRATIONS_STATE)
        try:
            migrations = migrations_from_json(body) if body is not None else {}
        except (ValueError, RecursionError) as e:
            raise ChatFilterStateError(
                f"the lake's state/{MIGRATIONS_STATE} is not a list of chat migrations"
                f" ({e}); fix or delete it"
            ) from None
        return cls(store, ChatFilter(chat_ids, migrations))

    @property
    def kept(self) -> frozenset[int] | None:
        """The chats kept now; None: every chat."""
        return self._filter.kept if self._filter is not None else None

    @property
    def migrations(self) -> Mapping[int, int]:
        return self._filter.migrations if self._filter is not None else {}

    async def admit(self, update: Mapping[str, Any]) -> tuple[bool, int | None]:
        """(keep?, chat id). A kept chat's migration is saved before it returns."""
        if self._filter is None:
            return True, None
        verdict = self._filter.decide(update)
        if verdict.follows is not None:
            await self._follow(*verdict.follows)
        return verdict.keep, verdict.chat_id

    async def _follow(self, old: int, new: int) -> None:
        async with self._lock:
            current = self._filter
            if current is None or new in current.kept:
                return
            followed = current.follow(old, new)
            body = migrations_to_json(followed.migrations)
            await anyio.to_thread.run_sync(self._store.save_state, MIGRATIONS_STATE, body)
            self._filter = followed
        log.warning("chat %d migrated to %d: keeping %d from now on", old, new, new)


async def ingest(
    store: LakeStore,
    gate: ChatGate,
    stats: IngestStats,
    update: Mapping[str, Any],
    body: bytes,
    arrived_at: datetime,
    zone: tzinfo,
) -> Outcome:
    """Keep or drop ``update`` by its chat, and store a kept one's ``body`` unchanged under
    its arrival day, durably, before returning. A drop is logged (kind, chat) and counted;
    so is an update whose ``update_id`` is not one of UPDATE_IDS (INVALID). Nothing but the
    ``update_id`` and the chat is looked at: dates and the rest are stored as they are.
    Raises LakeError when the body could not be stored."""
    stats.received += 1
    update_id = update.get("update_id")
    if not (is_int(update_id) and update_id in UPDATE_IDS):
        stats.invalid += 1
        shown = repr(update_id)
        shown = shown if len(shown) <= 40 else f"{shown[:40]}... ({len(shown)} characters)"
        log.warning("update dropped: update_id %s is not an integer in [0, 2**63)", shown)
        return Outcome.INVALID
    keep, chat_id = await gate.admit(update)
    if not keep:
        kind = update_kind(update)
        stats.dropped_by_kind[kind] += 1
        where = f"chat {chat_id}" if chat_id is not None else "no chat"
        log.warning("update %d dropped: %s from %s, not a kept chat", update_id, kind, where)
        return Outcome.DROPPED
    day = partition_day(arrived_at, zone)
    if await anyio.to_thread.run_sync(store.put_raw, day, update_id, body):
        stats.stored += 1
        return Outcome.STORED
    stats.duplicates += 1
    return Outcome.DUPLICATE


@attrs.frozen
class PollReport:
    """What ``poll`` did: batches read, the counts, the next offset."""

    batches: int
    stats: IngestStats
    offset: int | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def poll(
    store: LakeStore,
    api: BotApi,
    *,
    offset_file: Path,
    zone: tzinfo,
    gate: ChatGate,
    stats: IngestStats | None = None,
    clock: Callable[[], datetime] = _utc_now,
    stop_after: int | None = None,
    timeout_s: int = 30,
    sleep: Sleep = asyncio.sleep,
) -> PollReport:
    """Long-poll from the saved offset, storing each batch before saving the next offset.

    Runs until ``stop_after`` batches (forever when None), counting into ``stats``.
    Transient errors (no answer, 5xx, 429) are retried up to MAX_ATTEMPTS times in a row,
    waiting at most MAX_WAIT each.
    """
    stats = stats if stats is not None else IngestStats(since=clock())
    offset = read_offset(offset_file)
    batches = 0
    while stop_after is None or batches < stop_after:
        updates = await _get_updates(api, offset, timeout_s, sleep)
        arrived_at = clock()
        for _update_id, body in updates:
            await ingest(store, gate, stats, json.loads(body), body, arrived_at, zone)
        if updates:
            offset = max(update_id for update_id, _ in updates) + 1
            await asyncio.to_thread(save_offset, offset_file, offset)
            log.info(
                "%d updates received, %d stored, %d dropped; next offset %d",
                stats.received,
                stats.stored,
                stats.dropped,
                offset,
            )
        batches += 1
    return PollReport(batches, stats, offset)


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
