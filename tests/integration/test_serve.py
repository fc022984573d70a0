"""``tgstat serve`` as a user runs it: one real process tree (the command, the local Prefect
server, the runner, its flow runs, the embedded PostgreSQL), stopped by a signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from psycopg import sql

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.conftest import private_home
from tests.integration.processes import command_line, descendants, postmaster_pid, wait_all_gone
from tgstat.app.database import connect, embedded_server, socket_url
from tgstat.app.prefect_server import PrefectServerError, _check_ours, free_port

STOP_WITHIN_S = 15.0
SLOW = 1900000099


@pytest.fixture(name="serve_home", scope="module")
def _serve_home() -> Path:
    """One TGSTAT_HOME for the module: Prefect migrates its database once (later starts take
    seconds, not tens of seconds)."""
    return private_home("serve-home")


@contextlib.contextmanager
def served(home: Path, port: int, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``tgstat serve --port port`` in a real process; whatever a failing test leaves is
    killed, by pid, on the way out."""
    env = clean_env(TGSTAT_HOME=str(home), PREFECT_RUNNER_POLL_FREQUENCY="1", **extra)
    env.pop("PREFECT_API_URL", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.cli", "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            left = descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for pid in wait_all_gone(left, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def wait_deployments(api: str, proc: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """Name -> id of the served deployments, once this runner registered both."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if "serving tg-collect, lake-etl" not in log.read_text(errors="replace"):
            time.sleep(0.5)
            continue
        with contextlib.suppress(httpx.HTTPError):
            found = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
            names = {d["name"]: d["id"] for d in found}
            if {"tg-collect", "lake-etl"} <= names.keys():
                return names
        time.sleep(0.5)
    raise AssertionError(f"the deployments never appeared: {log.read_text()[-2000:]}")


def stop_and_check(proc: subprocess.Popen[bytes], sig: signal.Signals, tree: list[int]) -> None:
    """``sig`` to the command alone (as kill, systemd or a terminal send it): it exits 0 and
    every process of its tree is gone within 15 s."""
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=STOP_WITHIN_S) == 0
    left = wait_all_gone(tree, STOP_WITHIN_S - (time.monotonic() - started))
    named = [command_line(p) for p in left]
    for pid in left:  # a failing test still leaves nothing running
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert named == []


class TestPorts:
    """The UI finds its API on any port; a taken port stops everything before it starts."""

    def test_the_ui_calls_the_api_on_the_server_port(self, prefect_api_url: str) -> None:
        assert not prefect_api_url.endswith(":4200/api")  # the session server: a free port
        settings = httpx.get(f"{prefect_api_url.removesuffix('/api')}/ui-settings").json()
        assert settings["api_url"] == prefect_api_url

    def test_a_taken_port_is_one_line_and_starts_nothing(self, tmp_path: Path) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            done = run_tgstat(
                "serve", "--port", str(port), env=clean_env(TGSTAT_HOME=str(tmp_path)), timeout=30
            )
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"tgstat: error: port {port} on 127.0.0.1 is already in use (another Prefect"
            " server?): choose another with --port"
        ]
        assert not (tmp_path / "pg").exists()  # no database, no server, no runner
        assert not (tmp_path / "prefect").exists()

    def test_a_server_it_did_not_start_is_refused(
        self, prefect_api_url: str, tmp_path: Path
    ) -> None:
        # the session's server answers, but it keeps its state elsewhere: not ours
        ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            with pytest.raises(PrefectServerError, match="another Prefect server answers"):
                _check_ours(ours, prefect_api_url, tmp_path / "prefect")
        finally:
            ours.kill()
            ours.wait()

    def test_port_options_with_prefect_api_url_are_refused(self) -> None:
        env = clean_env(PREFECT_API_URL="http://127.0.0.1:1/api")
        done = run_tgstat("serve", "--port", "4300", env=env, timeout=30)
        assert done.returncode == 2
        assert "--host and --port start a local Prefect server" in done.stderr
        assert len(done.stderr.splitlines()) == 1

    def test_an_unreachable_prefect_api_url_is_one_line(self) -> None:
        done = run_tgstat("serve", env=clean_env(PREFECT_API_URL="http://127.0.0.1:1/api"))
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: cannot reach the Prefect server at")
        assert len(done.stderr.splitlines()) == 1


class TestSignals:
    """SIGTERM, SIGINT and SIGHUP stop the whole tree (checked by pid) within 15 s."""

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
    def test_a_signal_stops_every_process(
        self, serve_home: Path, tmp_path: Path, sig: signal.Signals
    ) -> None:
        port, log = free_port(), tmp_path / "serve.log"
        with served(serve_home, port, log) as proc:
            wait_deployments(f"http://127.0.0.1:{port}/api", proc, log)
            children = descendants(proc.pid)
            commands = " | ".join(command_line(p) for p in children)
            assert "prefect server start" in commands
            assert "-m tgstat.flows.serve" in commands
            postmaster = postmaster_pid(serve_home)
            assert postmaster is not None
            stop_and_check(proc, sig, [*children, postmaster])
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
        assert f"tgstat serve: {sig.name}: stopping" in log.read_text()

    def test_a_run_in_flight_is_cancelled(self, serve_home: Path, tmp_path: Path) -> None:
        """A collection stuck in a 100 s FloodWait ends Cancelled; its process is gone too."""
        scenario = self._slow_channel(serve_home, tmp_path)
        port, log = free_port(), tmp_path / "serve.log"
        api = f"http://127.0.0.1:{port}/api"
        with served(serve_home, port, log, TGSTAT_REPLAY_SCENARIO=str(scenario)) as proc:
            deployment = wait_deployments(api, proc, log)["tg-collect"]
            run = httpx.post(f"{api}/deployments/{deployment}/create_flow_run", json={}).json()
            self._wait_state(api, run["id"], "RUNNING")
            time.sleep(2)  # inside the FloodWait now
            tree = [*descendants(proc.pid), postmaster_pid(serve_home) or 0]
            [runner] = [p for p in tree if "-m tgstat.flows.serve" in command_line(p)]
            assert descendants(runner), "no flow run process under the runner"
            stop_and_check(proc, signal.SIGTERM, tree)
        assert self._final_state(serve_home, run["id"]) == ("CANCELLED", "Cancelled")

    @staticmethod
    def _slow_channel(home: Path, tmp_path: Path) -> Path:
        """Register a replay channel, and script it to answer its first read with a FloodWait
        of 100 s (the cycle waits it out, as it would for Telegram)."""
        now = datetime.now(UTC).replace(microsecond=0)

        def iso(t: datetime) -> str:
            return t.isoformat().replace("+00:00", "Z")

        posted = now - timedelta(hours=3)
        base = {
            "channel": {"id": SLOW, "title": "Slow", "username": "slow"},
            "start": iso(posted),
            "end": iso(posted + timedelta(minutes=5)),
            "posts": [{"id": 1, "date": iso(posted), "text": "p", "views": [[iso(posted), 5]]}],
        }
        (tmp_path / "register.json").write_text(json.dumps(base))
        done = run_tgstat(
            "replay", str(tmp_path / "register.json"), env=clean_env(TGSTAT_HOME=str(home))
        )
        assert done.returncode == 0, done.stderr
        slow = {
            **base,
            "end": iso(now + timedelta(days=1)),
            "faults": [{"at": iso(posted), "call": "posts", "kind": "flood_wait", "seconds": 100}],
        }
        (tmp_path / "slow.json").write_text(json.dumps(slow))
        return tmp_path / "slow.json"

    @staticmethod
    def _wait_state(api: str, run_id: str, wanted: str) -> None:
        deadline = time.monotonic() + 90
        state = None
        while time.monotonic() < deadline:
            state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]
            if state and state["type"] == wanted:
                return
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} never {wanted}: {state}")

    @staticmethod
    def _final_state(home: Path, run_id: str) -> tuple[str, str]:
        """The run's last state in the Prefect database (everything is stopped by now)."""
        with embedded_server(home) as sockets, connect(socket_url(sockets, "prefect")) as conn:
            row = conn.execute(
                sql.SQL("SELECT state_type, state_name FROM flow_run WHERE id = %s"), (run_id,)
            ).fetchone()
        assert row is not None
        return str(row[0]), str(row[1])
