"""The lake webhook over real HTTP: uvicorn on a loopback port, the real FsspecLakeStore."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import httpx
import pytest

from tests.integration.cli import clean_env
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
        """Every file under the lake root, hidden ones included."""
        return sorted(p for p in self.root.rglob("*") if p.is_file())


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
        """20:00 UTC on Nov 1 is Nov 2 in Tokyo."""
        webhook = make_webhook(zone=ZoneInfo("Asia/Tokyo"))
        evening = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
        body = message_update(5, at=evening)
        assert webhook.post(body).status_code == 200
        assert webhook.raw(date(2026, 11, 2), 5).read_bytes() == body
        assert webhook.store.raw_names(date(2026, 11, 1)) == []

    def test_update_without_message_date_uses_arrival(self, make_webhook: MakeWebhook) -> None:
        """An inline query has no message date: the day is the arrival's, in the zone."""
        arrival = datetime(2026, 11, 3, 23, 30, tzinfo=UTC)
        webhook = make_webhook(zone=ZoneInfo("Asia/Tokyo"), clock=lambda: arrival)
        body = b'{"update_id":9,"inline_query":{"id":"1","from":{"id":7},"query":"q"}}'
        assert webhook.post(body).status_code == 200
        assert webhook.raw(date(2026, 11, 4), 9).read_bytes() == body

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
            b'{"update_id": "5"}',
            b'{"update_id": true}',
            b'{"update_id": 1.5}',
            b'{"update_id": null}',
            b"[" * 100_000 + b"]" * 100_000,
        ],
        ids=[
            "empty",
            "not-json",
            "not-utf8",
            "array",
            "string",
            "no-update-id",
            "string-id",
            "bool-id",
            "float-id",
            "null-id",
            "deeply-nested",
        ],
    )
    def test_malformed_is_400(self, webhook: Webhook, body: bytes) -> None:
        """Not JSON, not an object, or no integer update_id."""
        response = webhook.post(body)
        assert response.status_code == 400
        assert response.json()["ok"] is False
        assert webhook.files() == []

    def test_other_chat_is_acknowledged_not_stored(self, make_webhook: MakeWebhook) -> None:
        """With chat ids configured, other chats (and chatless updates) get 200, no file."""
        webhook = make_webhook(chat_ids=frozenset({-100}))
        other = webhook.post(message_update(1, chat_id=-200))
        chatless = webhook.post(b'{"update_id":2,"inline_query":{"id":"1","query":"q"}}')
        kept = webhook.post(message_update(3, chat_id=-100))
        assert [r.status_code for r in (other, chatless, kept)] == [200, 200, 200]
        assert other.json() == {"ok": True, "stored": False}
        assert webhook.files() == [webhook.raw(DAY, 3)]

    def test_wrong_method_is_405(self, webhook: Webhook) -> None:
        """GET on the webhook path is not an update."""
        assert httpx.get(f"{webhook.url}/telegram/webhook").status_code == 405


_CRASH = """
import os, sys
from datetime import date
from tgstat.adapters.fsspec_lake import FsspecLakeStore

root, where, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
if where == "mid-write":
    real_write = os.write
    def write(fd, data):
        real_write(fd, data[: len(data) // 2])
        os._exit(9)
    os.write = write
else:
    os.link = lambda *args, **kwargs: os._exit(9)
FsspecLakeStore(root).put_raw(date.fromisoformat(sys.argv[3]), 101, body)
"""


class TestCrashSafety:
    """A write interrupted at any point is invisible to readers, and a retry stores it."""

    @pytest.mark.parametrize("where", ["mid-write", "before-link"])
    def test_killed_writer_leaves_no_visible_file(self, webhook: Webhook, where: str) -> None:
        """The process dies inside put_raw; only a dot-temp file remains, which raw_names skips."""
        body = message_update(101)
        crashed = subprocess.run(
            [sys.executable, "-c", _CRASH, str(webhook.root), where, DAY.isoformat()],
            input=body,
            capture_output=True,
            check=False,
        )
        assert crashed.returncode == 9, crashed.stderr.decode()
        leftovers = webhook.files()
        assert len(leftovers) == 1
        assert leftovers[0].name.startswith(".101.json.")
        assert webhook.store.raw_names(DAY) == []
        assert not webhook.raw(DAY, 101).exists()

        retry = webhook.post(body)
        assert retry.json() == {"ok": True, "stored": True}
        assert webhook.store.raw_names(DAY) == ["101.json"]
        assert webhook.raw(DAY, 101).read_bytes() == body

    def test_storage_error_is_500_and_retry_stores(
        self, webhook: Webhook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failed write answers 500 (Telegram retries), leaves nothing, logs no secrets."""

        def failing_link(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EIO, "injected I/O error")

        body = message_update(102)
        caplog.set_level(logging.DEBUG)
        with monkeypatch.context() as patch:
            patch.setattr(os, "link", failing_link)
            response = webhook.post(body)
        assert response.status_code == 500
        assert response.json()["ok"] is False
        assert webhook.files() == []
        assert "update 102 not stored" in caplog.text
        assert SECRET not in caplog.text
        assert "hello 102" not in caplog.text

        assert webhook.post(body).json() == {"ok": True, "stored": True}
        assert webhook.raw(DAY, 102).read_bytes() == body


_RUN = """
import argparse, sys
from tgstat.cli import run_command
from tgstat.cli.lake import webhook_run as run
sys.exit(run_command(run, argparse.Namespace(host="127.0.0.1", port=int(sys.argv[1]))))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestCommand:
    """The webhook command: refuses to start without a usable secret, else serves the lake."""

    @pytest.mark.parametrize(
        ("secret", "expected"),
        [(None, "TGSTAT_BOT_SECRET_TOKEN is not set"), ("has space", "must be 1-256")],
    )
    def test_refuses_without_usable_secret(
        self, tmp_path: Path, secret: str | None, expected: str
    ) -> None:
        """Exit 2 and one line on stderr, no traceback."""
        env = clean_env(TGSTAT_HOME=str(tmp_path))
        if secret is not None:
            env["TGSTAT_BOT_SECRET_TOKEN"] = secret
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(_free_port())],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith("tgstat: error: ")
        assert expected in done.stderr
        assert not (tmp_path / "lake").exists()

    def test_serves_into_home_lake(self, tmp_path: Path) -> None:
        """With the secret set it serves and stores under TGSTAT_HOME/lake; Ctrl-C stops it."""
        port = _free_port()
        env = clean_env(
            TGSTAT_HOME=str(tmp_path),
            TGSTAT_BOT_SECRET_TOKEN=SECRET,
            TGSTAT_LAKE_TZ="Asia/Tokyo",
        )
        child = subprocess.Popen(
            [sys.executable, "-c", _RUN, str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                assert time.monotonic() < deadline, "webhook did not start"
                time.sleep(0.1)
            evening = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
            body = message_update(77, at=evening)
            response = httpx.post(f"{url}/telegram/webhook", content=body, headers=AUTH)
            assert response.status_code == 200
        finally:
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=30)
        stored = tmp_path / "lake/raw/telegram/context_date=2026-11-02/77.json"
        assert stored.read_bytes() == body
        assert SECRET.encode() not in stderr
        assert child.returncode == 0
