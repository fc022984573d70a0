"""The lake webhook as a process: killed mid-write, failing disks, and ``tgstat lake
webhook`` itself (see test_lake_webhook.py for the HTTP behaviour)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.integration.cli import clean_env
from tests.integration.test_lake_webhook import (
    AUTH,
    DAY,
    SECRET,
    Webhook,
    message_update,
)
from tests.integration.test_lake_webhook import _make_webhook as _make_webhook  # fixtures
from tests.integration.test_lake_webhook import _webhook as _webhook

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
        """With the secret set it serves and stores under TGSTAT_HOME/lake, under today in
        TGSTAT_LAKE_TZ (the message's own date is irrelevant); Ctrl-C stops it."""
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
            body = message_update(77, at=datetime(2026, 11, 1, 20, 0, tzinfo=UTC))
            tokyo = ZoneInfo("Asia/Tokyo")
            before = datetime.now(tokyo).date()
            response = httpx.post(f"{url}/telegram/webhook", content=body, headers=AUTH)
            after = datetime.now(tokyo).date()
            assert response.status_code == 200
        finally:
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=30)
        (stored,) = (tmp_path / "lake/raw/telegram").glob("*/77.json")
        assert stored.parent.name in {f"context_date={before}", f"context_date={after}"}
        assert stored.read_bytes() == body
        assert SECRET.encode() not in stderr
        assert child.returncode == 0
