"""A local Prefect server whose state lives in the embedded PostgreSQL (its own database)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx

from tgstat.app.database import embedded_server, ensure_database, socket_url
from tgstat.domain.errors import TgstatError

PREFECT_DATABASE = "prefect"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.25


class PrefectServerError(TgstatError):
    """Raised when the local Prefect server exits early or does not become healthy."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_env(prefect_home: Path, socket_dir: Path) -> dict[str, str]:
    host = urllib.parse.quote(str(socket_dir), safe="/")
    return {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_DATABASE_CONNECTION_URL": (
            f"postgresql+asyncpg://postgres:@/{PREFECT_DATABASE}?host={host}"
        ),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def _wait_healthy(proc: subprocess.Popen[bytes], api_url: str, log: Path, start: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PrefectServerError(
                    f"the Prefect server exited with code {proc.returncode} before it was"
                    f" healthy: {_last_words(log, start)} (see {log})"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{api_url}/health").status_code == 200:
                    return
            time.sleep(_POLL_S)
    raise PrefectServerError(
        f"the Prefect server at {api_url} was not healthy after {START_TIMEOUT_S:.0f} s (see {log})"
    )


def _last_words(log: Path, start: int) -> str:
    """The end of this start's part of the log, on one line: usually why the server stopped."""
    try:
        with log.open("rb") as f:
            f.seek(start)
            lines = [line.strip() for line in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return "no log"
    return " ".join([line for line in lines if line][-3:])[-300:] or "empty log"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group; SIGKILL when it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def local_prefect_server(home: Path, *, port: int | None = None) -> Iterator[str]:
    """Run ``prefect server start`` on 127.0.0.1 for the block; yield its API URL (``.../api``).

    The server keeps its state in the ``prefect`` database of the embedded PostgreSQL in
    ``home`` and logs to ``home/prefect/server.log``. On exit it is stopped (SIGTERM, then
    SIGKILL after 10 s) before the embedded PostgreSQL is released.
    """
    prefect_home = (home / "prefect").resolve()
    prefect_home.mkdir(parents=True, exist_ok=True)
    log = prefect_home / "server.log"
    port = free_port() if port is None else port
    api_url = f"http://127.0.0.1:{port}/api"
    with embedded_server(home) as socket_dir:
        ensure_database(socket_url(socket_dir, "postgres"), PREFECT_DATABASE)
        command = [sys.executable, "-m", "prefect", "server", "start"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        with log.open("ab") as out:
            start = out.tell()
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_server_env(prefect_home, socket_dir),
                start_new_session=True,  # its own process group, stopped as a whole
            )
        try:
            _wait_healthy(proc, api_url, log, start)
            yield api_url
        finally:
            _stop(proc)
