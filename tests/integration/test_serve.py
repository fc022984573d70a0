"""``tgstat serve`` as a user runs it: one real process tree (the command, the local Prefect
server, the runner, its flow runs, the embedded PostgreSQL), stopped by a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from psycopg import sql

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.conftest import private_home
from tests.integration.processes import command_line, descendants, postmaster_pid, wait_all_gone
from tests.integration.serving import (
    served,
    slow_channel,
    stop_leftovers,
    wait_deployments,
    wait_state,
)
from tgstat.app.database import connect, embedded_server, socket_url
from tgstat.app.prefect_server import PrefectServerError, _check_ours, free_port

STOP_WITHIN_S = 15.0


@pytest.fixture(name="serve_home", scope="module")
def _serve_home() -> Path:
    """One TGSTAT_HOME for the module: Prefect migrates its database once (later starts take
    seconds, not tens of seconds)."""
    return private_home("serve-home")


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
        with served(serve_home, log, ["--port", str(port)]) as proc:
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
        scenario = slow_channel(serve_home, tmp_path)
        port, log = free_port(), tmp_path / "serve.log"
        api = f"http://127.0.0.1:{port}/api"
        with served(
            serve_home, log, ["--port", str(port)], TGSTAT_REPLAY_SCENARIO=str(scenario)
        ) as proc:
            deployment = wait_deployments(api, proc, log)["tg-collect"]
            run = httpx.post(f"{api}/deployments/{deployment}/create_flow_run", json={}).json()
            wait_state(api, run["id"], "RUNNING")
            time.sleep(2)  # inside the FloodWait now
            tree = [*descendants(proc.pid), postmaster_pid(serve_home) or 0]
            [runner] = [p for p in tree if "-m tgstat.flows.serve" in command_line(p)]
            assert descendants(runner), "no flow run process under the runner"
            stop_and_check(proc, signal.SIGTERM, tree)
        assert self._final_state(serve_home, run["id"]) == ("CANCELLED", "Cancelled")

    @staticmethod
    def _final_state(home: Path, run_id: str) -> tuple[str, str]:
        """The run's last state in the Prefect database (everything is stopped by now)."""
        with embedded_server(home) as sockets, connect(socket_url(sockets, "prefect")) as conn:
            row = conn.execute(
                sql.SQL("SELECT state_type, state_name FROM flow_run WHERE id = %s"), (run_id,)
            ).fetchone()
        assert row is not None
        return str(row[0]), str(row[1])


class TestEarlySignal:
    """A stop signal that reaches the runner while it is still starting stops it within the
    grace period: no runner that never started is awaited or stopped (commit 49202a1)."""

    def test_a_signal_while_the_runner_starts(self, serve_home: Path, prefect_api_url: str) -> None:
        env = clean_env(TGSTAT_HOME=str(serve_home), PREFECT_API_URL=prefect_api_url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.cli", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            lines, runner = self._signal_as_it_starts(proc)
            tree = [runner, *descendants(runner)]
            out, _ = proc.communicate(timeout=STOP_WITHIN_S)
        finally:
            stopped_quickly = proc.poll() is not None
            stop_leftovers(proc)
        text = "".join(lines) + out.decode(errors="replace") if stopped_quickly else ""
        assert stopped_quickly, "tgstat serve did not stop within 15 s"
        assert "SIGTERM: stopping before the runner started" in text, text
        assert "Traceback" not in text, text
        assert proc.returncode == 0, text
        assert wait_all_gone(tree, 5) == []

    @staticmethod
    def _signal_as_it_starts(proc: subprocess.Popen[bytes]) -> tuple[list[str], int]:
        """SIGTERM to the command, then to its runner, the moment the runner says it serves
        (it installs its handlers, then starts Prefect's runner: the signal lands in between,
        as when the command is stopped right after it started)."""
        assert proc.stdout is not None
        lines: list[str] = []
        runner = 0
        for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))
            if not runner and "tgstat serve: serving" in lines[-1]:
                [runner] = [
                    p for p in descendants(proc.pid) if "tgstat.flows.serve" in command_line(p)
                ]
            if lines[-1].startswith("serving tg-collect, lake-etl"):
                proc.send_signal(signal.SIGTERM)
                os.kill(runner, signal.SIGTERM)
                return lines, runner
        raise AssertionError(f"the runner never said it serves: {''.join(lines)}")
