"""A local Prefect server whose state lives in the embedded PostgreSQL (its own database)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx

from tgstat.app.database import embedded_server, ensure_database, socket_url
from tgstat.app.supervisor import check_port_free
from tgstat.domain.errors import TgstatError

PREFECT_DATABASE = "prefect"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 4.0
SERVING_FILE = "serving.json"
_POLL_S = 0.25
CHECK_ATTEMPTS = 3
CHECK_TIMEOUT_S = 10.0
"""Asking the started server whose it is: attempts and seconds each (F3 of the fresh-user
check of issue 13: a loaded server answered /admin/settings after 5 s)."""


class PrefectServerError(TgstatError):
    """Raised when the local Prefect server exits early or does not become healthy."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def browser_host(host: str) -> str:
    """The host a browser on this machine reaches a server bound to ``host`` by."""
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - naming the wildcard, not binding it
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _server_env(
    prefect_home: Path, socket_dir: Path, host: str, port: int, api_url: str
) -> dict[str, str]:
    db_host = urllib.parse.quote(str(socket_dir), safe="/")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                f"postgresql+asyncpg://postgres:@/{PREFECT_DATABASE}?host={db_host}"
            ),
            "PREFECT_SERVER_API_HOST": host,
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
    )
    # the UI calls the API from the browser: at this port, not the default 4200 (a URL the
    # user set for a proxy in front of the server wins)
    env.setdefault("PREFECT_UI_API_URL", api_url)
    env.setdefault("PREFECT_UI_URL", api_url.removesuffix("/api"))
    return env


@attrs.frozen
class LocalPrefectServer:
    """A running ``prefect server start`` of this process."""

    api_url: str
    """Its REST API (``http://host:port/api``); the UI is at the same address without /api."""
    process: subprocess.Popen[bytes]

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


def _wait_healthy(
    proc: subprocess.Popen[bytes],
    api_url: str,
    log: Path,
    start: int,
    interrupt: Callable[[], None],
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            interrupt()
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


def _check_ours(proc: subprocess.Popen[bytes], api_url: str, prefect_home: Path) -> None:
    """The server answering ``api_url`` is the one started here, not one that took the port
    in the meantime: its PREFECT_HOME is ours. A slow answer (a loaded machine, the server's
    database still warming up) is asked again, up to ``CHECK_ATTEMPTS`` times."""
    home: str | None = None
    for attempt in range(CHECK_ATTEMPTS):
        if proc.poll() is not None:
            break
        try:
            answer = httpx.get(f"{api_url}/admin/settings", timeout=CHECK_TIMEOUT_S)
            home = answer.json().get("home") if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            home = None
        if home is not None:
            break
        time.sleep(min(2.0, attempt + 0.5))
    if proc.poll() is not None or (home is not None and Path(home) != prefect_home):
        raise PrefectServerError(
            f"another Prefect server answers at {api_url}, not the one tgstat started:"
            " choose another port with --port"
        )
    if home is None:
        raise PrefectServerError(
            f"the Prefect server tgstat started at {api_url} does not answer"
            f" {CHECK_ATTEMPTS} x {CHECK_TIMEOUT_S:.0f} s; see {prefect_home / 'server.log'}"
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


def stop_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process group ``proc`` leads; SIGKILL to it when ``proc`` lingers past
    ``timeout`` seconds, and to any member left behind once it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def local_prefect_server(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    interrupt: Callable[[], None] = lambda: None,
) -> Iterator[LocalPrefectServer]:
    """Run ``prefect server start`` on ``host:port`` for the block.

    A taken port raises PortInUseError before anything starts; a server that is not the one
    started here answering on the port raises PrefectServerError. The server keeps its state
    in the ``prefect`` database of the embedded PostgreSQL in ``home``, logs to
    ``home/prefect/server.log``, and its UI calls the API at ``api_url``. ``interrupt`` is
    called while waiting for it to start (it may raise to give up). On exit it is stopped
    (SIGTERM, then SIGKILL after 4 s) before the embedded PostgreSQL is released.
    """
    prefect_home = (home / "prefect").resolve()
    port = free_port() if port is None else port
    check_port_free(host, port, "another Prefect server?")
    prefect_home.mkdir(parents=True, exist_ok=True)
    log = prefect_home / "server.log"
    api_url = f"http://{browser_host(host)}:{port}/api"
    with embedded_server(home) as socket_dir:
        ensure_database(socket_url(socket_dir, "postgres"), PREFECT_DATABASE)
        command = [sys.executable, "-m", "prefect", "server", "start"]
        command += ["--host", host, "--port", str(port)]
        with log.open("ab") as out:
            start = out.tell()
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_server_env(prefect_home, socket_dir, host, port, api_url),
                start_new_session=True,  # its own process group, stopped as a whole
            )
        try:
            _wait_healthy(proc, api_url, log, start, interrupt)
            _check_ours(proc, api_url, prefect_home)
            yield LocalPrefectServer(api_url, proc)
        finally:
            stop_group(proc, STOP_TIMEOUT_S)


@contextlib.contextmanager
def serving(home: Path, api_url: str) -> Iterator[None]:
    """Note in ``home/prefect/serving.json`` that this process serves on ``api_url``, for
    ``tgstat doctor``; removed on exit."""
    path = home / "prefect" / SERVING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_url": api_url, "pid": os.getpid()}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def served_api_url(home: Path) -> str | None:
    """The API URL of a ``tgstat serve`` running on ``home`` right now, if any."""
    try:
        noted = json.loads((home / "prefect" / SERVING_FILE).read_text())
        os.kill(int(noted["pid"]), 0)
        return str(noted["api_url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
