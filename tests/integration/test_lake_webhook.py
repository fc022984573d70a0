"""The lake webhook over real HTTP: uvicorn on a loopback port, the real FsspecLakeStore."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import httpx
import pytest

from tests.integration.http import serving
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.starlette_webhook import MAX_BODY, SECRET_HEADER, create_app

SECRET = "test-secret_0123456789"
AUTH = {SECRET_HEADER: SECRET}
Headers = Mapping[str, str] | Mapping[bytes, bytes]
NOON = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = NOON.date()


def message_update(update_id: int, *, at: datetime = NOON, chat_id: int = -100) -> bytes:
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(at.timestamp()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Group"},
            "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
            "text": f"hello {update_id}",
        },
    }
    return json.dumps(update).encode()


@attrs.frozen
class Webhook:
    url: str
    root: Path
    store: FsspecLakeStore

    def post(self, body: bytes, headers: Headers | None = None) -> httpx.Response:
        headers = AUTH if headers is None else headers
        return httpx.post(f"{self.url}/telegram/webhook", content=body, headers=headers)

    def raw(self, day: date, update_id: int) -> Path:
        return self.root / "raw" / "telegram" / f"context_date={day}" / f"{update_id}.json"

    def files(self) -> list[Path]:
        """Every raw, enriched or quarantined file under the lake root, hidden ones included."""
        return sorted(
            p for p in self.root.rglob("*") if p.is_file() and not p.is_relative_to(self.state)
        )

    @property
    def state(self) -> Path:
        return self.root / "state"

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/telegram/stats", headers=AUTH)
        assert response.status_code == 200
        stats: dict[str, Any] = response.json()
        return stats


MakeWebhook = Callable[..., Webhook]


@pytest.fixture(name="make_webhook")
def _make_webhook(tmp_path: Path) -> Iterator[MakeWebhook]:
    """Start a webhook over a fresh lake in tmp_path (zone, chat_ids and clock to taste)."""
    with contextlib.ExitStack() as stack:

        def make(
            *,
            zone: tzinfo = UTC,
            chat_ids: frozenset[int] | None = None,
            clock: Callable[[], datetime] = lambda: NOON,
        ) -> Webhook:
            root = tmp_path / "lake"
            store = FsspecLakeStore(str(root))
            app = create_app(store, secret_token=SECRET, zone=zone, chat_ids=chat_ids, clock=clock)
            return Webhook(stack.enter_context(serving(app)), root, store)

        yield make


@pytest.fixture(name="webhook")
def _webhook(make_webhook: MakeWebhook) -> Webhook:
    return make_webhook()


class TestStoring:
    """An accepted update is stored unchanged under its day before the 200."""

    def test_body_stored_byte_for_byte(self, webhook: Webhook) -> None:
        """Odd spacing, escapes and raw UTF-8 survive exactly."""
        body = (
            (
                '{ "update_id" :101 ,\n\t"message":{"message_id":1, "date": STAMP,'
                '"chat":{"id":-100,"type":"group"},"text":"héllo 👋 \\u00e9\\n"}   }  '
            )
            .replace("STAMP", str(int(NOON.timestamp())))
            .encode()
        )
        response = webhook.post(body)
        assert response.status_code == 200
        assert response.json() == {"ok": True, "stored": True}
        assert webhook.raw(DAY, 101).read_bytes() == body
        assert webhook.store.raw_names(DAY) == ["101.json"]

    def test_lake_time_zone_moves_the_day(self, make_webhook: MakeWebhook) -> None:
        """Arriving at 20:00 UTC on Nov 1 is arriving on Nov 2 in Tokyo."""
        evening = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
        webhook = make_webhook(zone=ZoneInfo("Asia/Tokyo"), clock=lambda: evening)
        body = message_update(5, at=evening)
        assert webhook.post(body).status_code == 200
        assert webhook.raw(date(2026, 11, 2), 5).read_bytes() == body
        assert webhook.store.raw_names(date(2026, 11, 1)) == []

    @pytest.mark.parametrize(
        "body",
        [
            message_update(9, at=datetime(2024, 3, 1, tzinfo=UTC)),  # delivered two years late
            b'{"update_id":9,"callback_query":{"id":"1","from":{"id":7},'
            b'"message":{"message_id":3,"date":0,"chat":{"id":-100,"type":"group"}}}}',
            b'{"update_id":9,"inline_query":{"id":"1","from":{"id":7},"query":"q"}}',
        ],
        ids=["old-message-date", "inaccessible-message-date-0", "no-date"],
    )
    def test_filed_under_the_arrival_day(self, make_webhook: MakeWebhook, body: bytes) -> None:
        """Whatever dates the update holds, its day is the one it arrived on, in the zone."""
        arrival = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
        webhook = make_webhook(zone=ZoneInfo("Asia/Tokyo"), clock=lambda: arrival)
        assert webhook.post(body).status_code == 200
        assert [p.relative_to(webhook.root) for p in webhook.files()] == [
            Path("raw/telegram/context_date=2026-11-04/9.json")
        ]

    def test_duplicate_update_id_stored_once(self, webhook: Webhook) -> None:
        """Telegram's retry of a stored update is acknowledged and changes nothing."""
        first = message_update(3)
        assert webhook.post(first).json() == {"ok": True, "stored": True}
        again = webhook.post(message_update(3, at=NOON.replace(hour=13)))
        assert again.status_code == 200
        assert again.json() == {"ok": True, "stored": False}
        assert webhook.files() == [webhook.raw(DAY, 3)]
        assert webhook.raw(DAY, 3).read_bytes() == first

    async def test_concurrent_duplicates_stored_once(self, webhook: Webhook) -> None:
        """Twenty simultaneous deliveries of one update: all 200, exactly one stored."""
        body = message_update(4)
        async with httpx.AsyncClient() as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"{webhook.url}/telegram/webhook", content=body, headers=AUTH)
                    for _ in range(20)
                )
            )
        assert [r.status_code for r in responses] == [200] * 20
        assert sum(r.json()["stored"] for r in responses) == 1
        assert webhook.files() == [webhook.raw(DAY, 4)]

    def test_body_of_exactly_the_limit_is_accepted(self, webhook: Webhook) -> None:
        """1 MiB is allowed; only more is refused."""
        head = b'{"update_id":8,"pad":"'
        body = head + b"a" * (MAX_BODY - len(head) - 2) + b'"}'
        assert len(body) == MAX_BODY
        assert webhook.post(body).status_code == 200
        assert webhook.raw(DAY, 8).read_bytes() == body

    def test_chunked_body_is_stored(self, webhook: Webhook) -> None:
        """A body without Content-Length (chunked) is read whole."""
        body = message_update(12)
        response = httpx.post(
            f"{webhook.url}/telegram/webhook",
            content=iter([body[:10], body[10:]]),
            headers=AUTH,
        )
        assert response.status_code == 200
        assert webhook.raw(DAY, 12).read_bytes() == body

    def test_healthz(self, webhook: Webhook) -> None:
        """GET /healthz answers 200 without a secret."""
        response = httpx.get(f"{webhook.url}/healthz")
        assert (response.status_code, response.json()) == (200, {"ok": True})

    def test_stats_need_the_secret(self, webhook: Webhook) -> None:
        """GET /telegram/stats: the counts since start, for the secret's holder only."""
        assert httpx.get(f"{webhook.url}/telegram/stats").status_code == 401
        webhook.post(message_update(1))
        webhook.post(message_update(1))
        assert webhook.stats() == {
            "ok": True,
            "since": NOON.isoformat(),
            "received": 2,
            "stored": 1,
            "duplicates": 1,
            "invalid": 0,
            "dropped": 0,
            "dropped_by_kind": {},
            "kept_chats": None,
            "migrations": {},
        }


class TestRejections:
    """Refused requests write nothing."""

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {SECRET_HEADER: ""},
            {SECRET_HEADER: "wrong"},
            {SECRET_HEADER: SECRET + "x"},
            {SECRET_HEADER: SECRET[:-1]},
            {SECRET_HEADER.encode(): "é".encode() + SECRET.encode()},
        ],
        ids=["missing", "empty", "wrong", "longer", "shorter", "non-ascii"],
    )
    def test_wrong_or_missing_secret_is_401(self, webhook: Webhook, headers: Headers) -> None:
        """Only the exact secret token is accepted."""
        response = webhook.post(message_update(1), headers=headers)
        assert response.status_code == 401
        assert response.json()["ok"] is False
        assert webhook.files() == []

    def test_oversize_body_is_413(self, webhook: Webhook) -> None:
        """1 MiB + 1 byte with a Content-Length is refused."""
        head = b'{"update_id":8,"pad":"'
        body = head + b"a" * (MAX_BODY + 1 - len(head) - 2) + b'"}'
        assert len(body) == MAX_BODY + 1
        assert webhook.post(body).status_code == 413
        assert webhook.files() == []

    def test_oversize_chunked_body_is_413(self, webhook: Webhook) -> None:
        """Without a Content-Length the server counts the bytes as they stream in."""
        chunks = [b'{"update_id":8,"pad":"'] + [b"a" * 65536] * 16 + [b'"}']
        assert sum(map(len, chunks)) > MAX_BODY
        response = httpx.post(f"{webhook.url}/telegram/webhook", content=iter(chunks), headers=AUTH)
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert webhook.files() == []

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b"\xff\xfe\x00",
            b"[1, 2]",
            b'"update_id"',
            b'{"message": {}}',
            b"[" * 100_000 + b"]" * 100_000,
        ],
        ids=[
            "empty",
            "not-json",
            "not-utf8",
            "array",
            "string",
            "no-update-id",
            "deeply-nested",
        ],
    )
    def test_malformed_is_400(self, webhook: Webhook, body: bytes) -> None:
        """Not JSON, not an object, or no update_id at all: not an update."""
        response = webhook.post(body)
        assert response.status_code == 400
        assert response.json()["ok"] is False
        assert webhook.files() == []

    def test_other_chat_is_acknowledged_logged_counted(
        self, make_webhook: MakeWebhook, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With chat ids configured, other chats (and chatless updates) get 200, no file, a
        warning naming the kind and chat, and a count at /telegram/stats."""
        webhook = make_webhook(chat_ids=frozenset({-100}))
        caplog.set_level(logging.WARNING)
        other = webhook.post(message_update(1, chat_id=-200))
        chatless = webhook.post(b'{"update_id":2,"inline_query":{"id":"1","query":"q"}}')
        kept = webhook.post(message_update(3, chat_id=-100))
        assert [r.status_code for r in (other, chatless, kept)] == [200, 200, 200]
        assert other.json() == {"ok": True, "stored": False}
        assert webhook.files() == [webhook.raw(DAY, 3)]
        assert [r.getMessage() for r in caplog.records] == [
            "update 1 dropped: message from chat -200, not a kept chat",
            "update 2 dropped: inline_query from no chat, not a kept chat",
        ]
        assert "hello 1" not in caplog.text
        stats = webhook.stats()
        assert {k: stats[k] for k in ("received", "stored", "dropped", "dropped_by_kind")} == {
            "received": 3,
            "stored": 1,
            "dropped": 2,
            "dropped_by_kind": {"inline_query": 1, "message": 1},
        }

    def test_wrong_method_is_405(self, webhook: Webhook) -> None:
        """GET on the webhook path is not an update."""
        assert httpx.get(f"{webhook.url}/telegram/webhook").status_code == 405
