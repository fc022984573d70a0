"""Long polling into the lake: BotApiClient against a real local HTTP imitation of the Bot API."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.integration.http import serving
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.telegram_bot_api import BotApiClient
from tgstat.ports.bot_api import (
    BotApiError,
    PollingConflictError,
)
from tgstat.services.lake_ingest import (
    ALLOWED_UPDATES,
    MAX_ATTEMPTS,
    ChatGate,
    OffsetFileError,
    poll,
    read_offset,
)

TOKEN = "123456:AAE-secret_token_value"
NOON = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = NOON.date()
CONFLICT = "Conflict: can't use getUpdates method while webhook is active"
EVERY_CHAT = ChatGate(FsspecLakeStore("/nonexistent"), None)  # no filter: never reads state


def update(update_id: int, *, at: datetime = NOON, chat_id: int = -100) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(at.timestamp()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Группа"},
            "from": {"id": 7, "is_bot": False, "first_name": "Zoë"},
            "text": f"hello 👋 {update_id}",
        },
    }


def at_noon() -> datetime:
    """The clock of the poller under test: every batch arrives at NOON."""
    return NOON


def compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


EVERY_KIND = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "guest_message",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "managed_bot",
    "subscription",
]
"""The Update fields of Bot API 10.2, in its order."""
NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
"""Kinds Telegram sends only when allowed_updates names them."""


@attrs.define
class FakeBotApi:
    """Telegram's side: pending updates, getUpdates with offset/limit and allowed_updates
    (as Telegram: a kind not allowed is never delivered; an empty list allows all but
    NOT_BY_DEFAULT; no list keeps the previous one), setWebhook, failures."""

    pending: list[dict[str, Any]] = attrs.Factory(list)
    webhook: dict[str, Any] | None = None
    failures: list[Response] = attrs.Factory(list)
    calls: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)
    allowed: list[str] = attrs.Factory(list)

    def delivered(self, update: dict[str, Any]) -> bool:
        (kind,) = set(update) - {"update_id"}
        return kind in self.allowed if self.allowed else kind not in NOT_BY_DEFAULT

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._method, methods=["POST"])])

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method, params = request.path_params["method"], await request.json()
        self.calls.append((method, params))
        if self.failures:
            return self.failures.pop(0)
        self.allowed = params.get("allowed_updates", self.allowed)
        if method == "setWebhook":
            self.webhook = params
            return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})
        if method != "getUpdates":
            return _error(404, "Not Found")
        if self.webhook is not None:
            return _error(409, CONFLICT)
        offset = params.get("offset")
        if offset is not None:  # confirms every earlier update: Telegram forgets them
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        delivered = [u for u in self.pending if self.delivered(u)]
        return JSONResponse({"ok": True, "result": delivered[: params.get("limit", 100)]})


def _error(code: int, description: str, **parameters: Any) -> JSONResponse:
    payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return JSONResponse(payload, status_code=code)


@attrs.frozen
class Server:
    fake: FakeBotApi
    url: str


@pytest.fixture(name="server")
def _server() -> Iterator[Server]:
    """A fresh imitation of the Bot API on a loopback port."""
    fake = FakeBotApi()
    with serving(fake.app()) as url:
        yield Server(fake, url)


@pytest.fixture(name="api")
async def _api(server: Server) -> AsyncIterator[BotApiClient]:
    async with httpx.AsyncClient(base_url=f"{server.url}/bot{TOKEN}/") as client:
        yield BotApiClient(client)


@pytest.fixture(name="lake")
def _lake(tmp_path: Path) -> FsspecLakeStore:
    return FsspecLakeStore(str(tmp_path / "lake"))


class NoSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class CrashError(Exception):
    """Stands for the process being killed."""


class CrashingStore(FsspecLakeStore):
    """The real store, dying (like a killed process) after ``survive`` writes."""

    def __init__(self, root: str, survive: int) -> None:
        super().__init__(root)
        self.left = survive

    def put_raw(self, day: date, update_id: int, body: bytes) -> bool:
        if self.left == 0:
            raise CrashError
        self.left -= 1
        return super().put_raw(day, update_id, body)


class TestGetUpdates:
    """getUpdates returns each update's id and compact JSON bytes, from the offset on."""

    async def test_returns_ids_and_compact_json(self, server: Server, api: BotApiClient) -> None:
        """Non-ASCII text stays raw UTF-8; allowed_updates and timeout reach Telegram."""
        server.fake.pending = [update(1), update(2)]
        got = await api.get_updates(None, 0, ALLOWED_UPDATES)
        assert got == [(1, compact(update(1))), (2, compact(update(2)))]
        assert "👋".encode() in got[0][1]
        assert server.fake.calls == [
            ("getUpdates", {"timeout": 0, "allowed_updates": ALLOWED_UPDATES})
        ]

    async def test_offset_confirms_earlier_updates(self, server: Server, api: BotApiClient) -> None:
        """Asking from offset 3 drops 1 and 2 for good."""
        server.fake.pending = [update(i) for i in (1, 2, 3, 4)]
        assert [i for i, _ in await api.get_updates(3, 0, ALLOWED_UPDATES)] == [3, 4]
        assert [i for i, _ in await api.get_updates(None, 0, ALLOWED_UPDATES)] == [3, 4]


poll_at_noon = functools.partial(poll, zone=UTC, gate=EVERY_CHAT, clock=at_noon)
"""``poll`` of every chat into UTC days, the clock at noon."""


class TestPoll:
    """Each batch is stored before the saved offset moves past it."""

    async def test_stores_batch_and_saves_offset(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """One batch of Telegram's 100: stored, offset = last update_id + 1."""
        server.fake.pending = [update(i) for i in range(1, 251)]
        offset_file = tmp_path / "lake-poll.offset"
        report = await poll_at_noon(lake, api, offset_file=offset_file, stop_after=1)
        assert (report.stats.received, report.stats.stored, report.offset) == (100, 100, 101)
        assert read_offset(offset_file) == 101
        assert lake.raw_names(DAY) == sorted(f"{i}.json" for i in range(1, 101))

    async def test_restart_neither_loses_nor_duplicates(
        self, server: Server, api: BotApiClient, tmp_path: Path
    ) -> None:
        """Killed mid-batch after some writes: the restart stores the rest, each update once."""
        expected = {i: compact(update(i)) for i in range(1, 251)}
        server.fake.pending = [update(i) for i in range(1, 251)]
        offset_file, root = tmp_path / "lake-poll.offset", str(tmp_path / "lake")
        with pytest.raises(CrashError):
            await poll_at_noon(CrashingStore(root, survive=150), api, offset_file=offset_file)
        assert read_offset(offset_file) == 101  # the second batch was never confirmed

        lake = FsspecLakeStore(root)
        report = await poll_at_noon(lake, api, offset_file=offset_file, stop_after=3)
        assert (report.stats.received, report.stats.stored, report.stats.duplicates) == (
            150,
            100,
            50,
        )
        assert report.offset == 251
        assert read_offset(offset_file) == 251
        names = lake.raw_names(DAY)
        assert names == sorted(f"{i}.json" for i in expected)
        assert dict(lake.read_raw(DAY, names)) == {f"{i}.json": b for i, b in expected.items()}
        sent_offsets = [p.get("offset") for m, p in server.fake.calls if m == "getUpdates"]
        assert sent_offsets == [None, 101, 101, 201, 251]

    async def test_day_and_chat_rules_match_the_webhook(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """The arrival day in the zone, whatever the message's date; other chats (and
        chatless updates) dropped but confirmed."""
        evening = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
        inline = {"update_id": 3, "inline_query": {"id": "1", "query": "q"}}
        server.fake.pending = [update(1, at=evening), update(2, chat_id=-200), inline]
        offset_file = tmp_path / "lake-poll.offset"
        report = await poll(
            lake,
            api,
            offset_file=offset_file,
            zone=ZoneInfo("Asia/Tokyo"),
            gate=ChatGate.open(lake, frozenset({-100})),
            clock=lambda: datetime(2026, 11, 5, 1, 0, tzinfo=UTC),
            stop_after=1,
        )
        assert (report.stats.stored, report.stats.dropped, report.offset) == (1, 2, 4)
        assert lake.raw_names(date(2026, 11, 5)) == ["1.json"]
        assert lake.raw_names(date(2026, 11, 2)) == []
        assert dict(report.stats.dropped_by_kind) == {"message": 1, "inline_query": 1}

    async def test_rate_limit_waits_retry_after(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """A 429 sleeps Telegram's retry_after, then the batch goes through."""
        server.fake.pending = [update(1)]
        server.fake.failures = [_error(429, "Too Many Requests: retry after 3", retry_after=3)]
        sleep = NoSleep()
        offset_file = tmp_path / "lake-poll.offset"
        report = await poll_at_noon(lake, api, offset_file=offset_file, stop_after=1, sleep=sleep)
        assert sleep.waits == [3]
        assert report.stats.stored == 1

    async def test_transient_errors_have_an_attempt_cap(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """Bad gateways are retried with backoff, MAX_ATTEMPTS times, then raised."""
        server.fake.failures = [PlainTextResponse("Bad Gateway", 502)] * MAX_ATTEMPTS
        sleep = NoSleep()
        with pytest.raises(BotApiError) as raised:
            await poll_at_noon(lake, api, offset_file=tmp_path / "o", sleep=sleep)
        assert raised.value.error_code == 502
        assert sleep.waits == [2.0, 4.0, 8.0, 16.0, 32.0]

    async def test_conflict_is_not_retried(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """With a webhook set, polling fails at once and saves no offset."""
        server.fake.webhook = {"url": "https://example.org/telegram/webhook"}
        server.fake.pending = [update(1)]
        sleep = NoSleep()
        with pytest.raises(PollingConflictError):
            await poll_at_noon(lake, api, offset_file=tmp_path / "o", sleep=sleep)
        assert sleep.waits == []
        assert not (tmp_path / "o").exists()

    async def test_corrupt_offset_file_is_refused(
        self, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        """A damaged offset file stops the poll rather than re-reading from scratch."""
        offset_file = tmp_path / "lake-poll.offset"
        offset_file.write_text("12ab\n")
        with pytest.raises(OffsetFileError, match="not a getUpdates offset"):
            await poll_at_noon(lake, api, offset_file=offset_file)
