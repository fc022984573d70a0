"""``tgstat lake serve-etl`` as a real process on a real local Prefect server, stopped by
SIGTERM: quickly, with no traceback, whether the server is still there or already gone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.cli import clean_env
from tests.integration.conftest import private_home
from tgstat.app.prefect_server import local_prefect_server

STOP_WITHIN_S = 15.0


def serve_etl(
    home: Path, api_url: str, log: Path, spawned: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """``tgstat lake serve-etl``, returned once it says it serves (in ``spawned``, which
    the ``spawned`` fixture kills by pid if a test leaves it running)."""
    env = clean_env(TGSTAT_HOME=str(home), PREFECT_API_URL=api_url)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.cli", "lake", "serve-etl"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    spawned.append(proc)
    deadline = time.monotonic() + 120
    while not any(mark in log.read_text(errors="replace") for mark in SERVING):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return proc


SERVING = ("serving lake-etl", "is being served")
"""What tgstat's runner, or Prefect's own ``Flow.serve``, prints once serving (signal
handlers installed)."""


@pytest.fixture(name="spawned")
def _spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> float:
    """Send ``sig``; the seconds it took the process to exit."""
    started = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return time.monotonic() - started


class TestServeEtl:
    """Served by tgstat's runner, stopped by a signal within 15 s."""

    def test_serves_and_stops(
        self, tmp_path: Path, prefect_api_url: str, spawned: list[subprocess.Popen[bytes]]
    ) -> None:
        log = tmp_path / "serve-etl.log"
        proc = serve_etl(tmp_path, prefect_api_url, log, spawned)
        found = httpx.post(f"{prefect_api_url}/deployments/filter", json={}, timeout=10)
        assert "lake-etl" in {d["name"] for d in found.json()}
        took = stop(proc)
        text = log.read_text(errors="replace")
        assert proc.returncode == 0, text
        assert took < STOP_WITHIN_S, text
        assert "Traceback" not in text

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
    def test_stops_when_the_server_is_gone(
        self, tmp_path: Path, spawned: list[subprocess.Popen[bytes]], sig: signal.Signals
    ) -> None:
        """The Prefect server stops first (a crash, a reboot order): a stop signal still ends
        serve-etl within 15 s, with no traceback (Prefect's own serve, on Ctrl-C, tried to
        pause the schedule on the gone server for over a minute)."""
        log = tmp_path / "serve-etl.log"
        with local_prefect_server(private_home("serve-etl-prefect")) as server:
            proc = serve_etl(tmp_path, server.api_url, log, spawned)
        took = stop(proc, sig)
        text = log.read_text(errors="replace")
        assert took < STOP_WITHIN_S, text
        assert "Traceback" not in text
        assert proc.returncode == 0, text
