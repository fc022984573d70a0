"""Whose Prefect server answers the port: a slow answer is asked again, another home is
refused (app.prefect_server._check_ours over real HTTP, a real child process)."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tgstat.app import prefect_server
from tgstat.app.prefect_server import PrefectServerError, _check_ours


class _Settings(http.server.BaseHTTPRequestHandler):
    home = ""
    slow_first_s = 0.0
    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        if type(self).asked == 1:
            time.sleep(self.slow_first_s)
        body = json.dumps({"home": self.home}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(name="started")
def _started() -> Iterator[subprocess.Popen[bytes]]:
    """A live child standing in for the server process tgstat started."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def serve(home: Path, slow_first_s: float) -> tuple[str, http.server.ThreadingHTTPServer]:
    handler = type("Handler", (_Settings,), {"home": str(home), "slow_first_s": slow_first_s})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/api", server


def test_a_slow_first_answer_is_asked_again(
    started: subprocess.Popen[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefect_server, "CHECK_TIMEOUT_S", 0.5)
    url, server = serve(tmp_path, slow_first_s=1.5)
    try:
        _check_ours(started, url, tmp_path)  # the second attempt answers in time
    finally:
        server.shutdown()


def test_another_home_is_refused(started: subprocess.Popen[bytes], tmp_path: Path) -> None:
    url, server = serve(tmp_path / "someone-else", slow_first_s=0)
    try:
        with pytest.raises(PrefectServerError, match="another Prefect server answers"):
            _check_ours(started, url, tmp_path)
    finally:
        server.shutdown()


def test_no_answer_at_all_names_the_log(
    started: subprocess.Popen[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefect_server, "CHECK_ATTEMPTS", 2)
    with pytest.raises(PrefectServerError, match=r"does not answer 2 x .*server\.log"):
        _check_ours(started, "http://127.0.0.1:9/api", tmp_path)
