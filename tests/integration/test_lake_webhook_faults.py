"""The webhook on an operator's bad day: a full disk or a file-size limit under the real
``tgstat lake webhook`` process, update_ids the lake cannot name a file after, and message
dates out of any calendar (stored as they are, and the ETL copes)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests.integration.cli import clean_env
from tests.integration.test_lake_webhook import AUTH, DAY, NOON, SECRET, Webhook, message_update
from tests.integration.test_lake_webhook import _make_webhook as _make_webhook  # fixtures
from tests.integration.test_lake_webhook import _webhook as _webhook
from tests.integration.test_lake_webhook_process import _RUN, _free_port
from tgstat.app.lake import describe
from tgstat.services.lake_etl import run_etl

LIMIT = 4096


def big_update(update_id: int, size: int = 5125) -> bytes:
    """A message update of exactly ``size`` bytes (over LIMIT: a write is cut short)."""
    head = json.loads(message_update(update_id))
    head["message"]["text"] = ""
    pad = size - len(json.dumps(head).encode())
    head["message"]["text"] = "x" * pad
    body = json.dumps(head).encode()
    assert len(body) == size
    return body


@attrs.frozen
class Served:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    raw: Path
    log: Path
    """The process's stdout and stderr."""

    def post(self, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.url}/telegram/webhook", content=body, headers=AUTH, timeout=10)

    def entries(self) -> list[str]:
        """Every name in the raw day partitions, hidden temp files included."""
        return sorted(p.name for p in self.raw.rglob("*") if p.is_file())


def _limited(fsize: int) -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, as under systemd
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))


@contextlib.contextmanager
def webhook_process(
    home: Path, *, preexec: Callable[[], None] | None = None, **env: str
) -> Iterator[Served]:
    """``tgstat lake webhook`` in a real process on TGSTAT_HOME ``home`` (``preexec`` runs in
    the child before exec: limits), logging to ``home/webhook.log``; once it answers
    /healthz. Stopped (by pid) on the way out."""
    port = _free_port()
    log = home / "webhook.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUN, str(port)],
            env=clean_env(TGSTAT_HOME=str(home), TGSTAT_BOT_SECRET_TOKEN=SECRET, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "webhook did not start"
            time.sleep(0.1)
        yield Served(url, port, proc, home / "lake" / "raw", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class TestFullDisk:
    """An update is answered 200 only once every byte is on disk; a failed write is 5xx,
    leaves nothing a resend would take for stored, and the resend stores it."""

    def test_file_size_limit(self, tmp_path: Path) -> None:
        """RLIMIT_FSIZE cuts the write at 4,096 of 5,125 bytes: 500, no file; once the limit
        is lifted the resend is stored whole."""
        body = big_update(901)
        with webhook_process(tmp_path, preexec=lambda: _limited(LIMIT)) as served:
            refused = served.post(body)
            assert refused.status_code == 500, refused.text
            assert served.entries() == []
            resource.prlimit(served.proc.pid, resource.RLIMIT_FSIZE, (-1, -1))
            retried = served.post(body)
            assert retried.json() == {"ok": True, "stored": True}
            (stored,) = served.raw.rglob("901.json")
            assert stored.read_bytes() == body

    def test_full_tmpfs(self, tmp_path: Path) -> None:
        """A lake on a tmpfs with one page free: 500 and nothing left; after room is made
        the resend is stored."""
        mount = tmp_path / "lake"
        mount.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        try:
            (mount / "raw").mkdir()
            filler = mount / "filler"
            with contextlib.suppress(OSError), filler.open("wb") as out:
                while True:
                    out.write(b"\0" * 4096)
                    out.flush()
            os.truncate(filler, filler.stat().st_size - 4096)  # one page free
            body = big_update(902)
            with webhook_process(tmp_path) as served:
                refused = served.post(body)
                assert refused.status_code == 500, refused.text
                assert served.entries() == []
                filler.unlink()
                assert served.post(body).json() == {"ok": True, "stored": True}
                (stored,) = served.raw.rglob("902.json")
                assert stored.read_bytes() == body
        finally:
            subprocess.run(["umount", str(mount)], check=True)

    def test_resend_replaces_a_cut_short_file(self, webhook: Webhook) -> None:
        """A file an older version left cut short under the final name is not "stored": the
        resend replaces it; a complete file is kept (a duplicate)."""
        body = big_update(903)
        path = webhook.raw(DAY, 903)
        path.parent.mkdir(parents=True)
        path.write_bytes(body[:LIMIT])
        assert webhook.post(body).json() == {"ok": True, "stored": True}
        assert path.read_bytes() == body
        assert webhook.post(body).json() == {"ok": True, "stored": False}
        assert [p.name for p in webhook.files()] == ["903.json"]


class TestUpdateIds:
    """Only update_ids in [0, 2**63) name a file; any other is answered 200 (Telegram would
    retry anything else, holding back the updates behind it), logged and counted."""

    @pytest.mark.parametrize(
        "update_id",
        ["1" + "0" * 300, str(2**63), "-1", "1.5", '"7"', "true", "null", "1e3"],
        ids=["huge", "2**63", "negative", "float", "string", "bool", "null", "exponent"],
    )
    def test_invalid_is_dropped_and_counted(
        self, webhook: Webhook, update_id: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING)
        body = f'{{"update_id": {update_id}, "message": {{"text": "secret words"}}}}'.encode()
        response = webhook.post(body)
        assert response.status_code == 200
        assert response.json() == {"ok": True, "stored": False}
        assert webhook.files() == []
        stats = webhook.stats()
        assert (stats["received"], stats["invalid"], stats["stored"]) == (1, 1, 0)
        (line,) = [r.getMessage() for r in caplog.records]
        assert line.startswith("update dropped: update_id ")
        assert len(line) < 160
        assert "secret words" not in caplog.text

    def test_largest_bigint_is_stored(self, webhook: Webhook) -> None:
        """2**63 - 1 is a bigint: stored under its 19 digits."""
        body = b'{"update_id": 9223372036854775807, "poll": {"id": "1"}}'
        assert webhook.post(body).json() == {"ok": True, "stored": True}
        assert webhook.raw(DAY, 2**63 - 1).read_bytes() == body


class TestDates:
    """Message dates are never parsed by the webhook; the ETL reports what it cannot store."""

    @pytest.mark.parametrize("value", ["1e14", "100000000000000", "1" + "0" * 30, '"x"', "-1e300"])
    def test_any_date_is_stored_as_is(self, webhook: Webhook, value: str) -> None:
        text = message_update(5).decode()
        body = text.replace(f'"date": {int(NOON.timestamp())}', f'"date": {value}').encode()
        assert body != text.encode()
        assert webhook.post(body).json() == {"ok": True, "stored": True}
        assert webhook.raw(DAY, 5).read_bytes() == body

    def test_etl_keeps_in_range_dates_and_reports_the_rest(self, webhook: Webhook) -> None:
        """10**14 fits int64 and is a row; 1e14 (a float), 10**30 and a string are not: each
        becomes a malformed message in telegram_event, one line in the summary."""
        for update_id, value in enumerate(["100000000000000", "1e14", "1" + "0" * 30, '"x"']):
            text = message_update(update_id).decode()
            body = text.replace(f'"date": {int(NOON.timestamp())}', f'"date": {value}')
            assert webhook.post(body.encode()).status_code == 200
        report = run_etl(webhook.store, DAY)
        assert (report.messages, report.events, report.malformed) == (1, 3, 3)
        assert "  3 malformed messages, kept in telegram_event" in describe(report).splitlines()
