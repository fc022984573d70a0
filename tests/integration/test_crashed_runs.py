"""A run whose process dies together with its ``tgstat serve`` (the OOM killer, a container
stop: SIGKILL of the whole process tree) ends Crashed, detected on the Prefect server that
outlived them from the missing heartbeats; a run that ended normally stays as it ended."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import private_home
from tests.integration.processes import descendants, wait_all_gone
from tests.integration.serving import (
    run_state,
    served,
    slow_channel,
    wait_deployments,
    wait_state,
)
from tgstat.app.database import embedded_server
from tgstat.flows.serve.crash_detection import CRASHED_MESSAGE, window

HEARTBEAT_S = 30  # Prefect's floor
WINDOW_S = window(HEARTBEAT_S).total_seconds()
EVALUATION_SLACK_S = 30.0


def heartbeats(api: str, run_id: str) -> list[datetime]:
    """When the server received heartbeats of the run (empty: none yet)."""
    body = {
        "filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        }
    }
    found = httpx.post(f"{api}/events/filter", json=body, timeout=5).json()
    return sorted(datetime.fromisoformat(e["occurred"]) for e in found["events"])


def wait_heartbeat(api: str, run_id: str, timeout: float = 30) -> datetime:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if beats := heartbeats(api, run_id):
            return beats[-1]
        time.sleep(0.5)
    raise AssertionError(f"no heartbeat of run {run_id} within {timeout:.0f} s")


def running_run(api: str, deployment: str, timeout: float = 90) -> str:
    """The id of the deployment's first run to be Running."""
    body = {
        "deployments": {"id": {"any_": [deployment]}},
        "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}},
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := httpx.post(f"{api}/flow_runs/filter", json=body, timeout=5).json():
            return str(found[0]["id"])
        time.sleep(0.5)
    raise AssertionError(f"no run of {deployment} started within {timeout:.0f} s")


def kill_tree(pid: int) -> None:
    """SIGKILL to ``pid`` and every process below it, all at once (nothing can clean up)."""
    tree = [pid, *descendants(pid)]
    for p in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    assert wait_all_gone(tree, 10) == []


class TestCrashedRuns:
    """A Running run whose processes were all killed becomes Crashed within the window."""

    def test_a_run_killed_with_serve_becomes_crashed(
        self, prefect_api_url: str, tmp_path: Path
    ) -> None:
        api, home = prefect_api_url, private_home("crash-home")
        scenario = slow_channel(home, tmp_path)
        log = tmp_path / "serve.log"
        extra = {
            "TGSTAT_REPLAY_SCENARIO": str(scenario),
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S),
        }
        try:
            with served(home, log, ["--interval", "3600"], api_url=api, **extra) as proc:
                deployment = wait_deployments(api, proc, log)["tg-collect"]
                self._create_run(api, deployment)
                stuck = running_run(api, deployment)  # in a 100 s FloodWait
                wait_heartbeat(api, stuck)
                # a second run of the busy channel ends Skipped: a normal end
                ended = self._create_run(api, deployment)
                assert wait_state(api, ended, "COMPLETED")["name"] == "Skipped"
                kill_tree(proc.pid)
                killed = time.monotonic()
                crashed = wait_state(api, stuck, "CRASHED", WINDOW_S + EVALUATION_SLACK_S)
                took = time.monotonic() - killed
        finally:
            with embedded_server(home):
                pass  # the killed serve left it running: the last holder out stops it
        assert crashed["message"] == CRASHED_MESSAGE
        assert took <= WINDOW_S + EVALUATION_SLACK_S
        self._stays_completed(api, ended)

    @staticmethod
    def _create_run(api: str, deployment: str) -> str:
        url = f"{api}/deployments/{deployment}/create_flow_run"
        run: dict[str, Any] = httpx.post(url, json={}, timeout=5).json()
        return str(run["id"])

    @staticmethod
    def _stays_completed(api: str, run_id: str) -> None:
        """The run that ended normally is not crashed once its own window has passed."""
        beats = heartbeats(api, run_id)
        if beats:
            last = beats[-1].timestamp()
            time.sleep(max(0.0, last + WINDOW_S + 10 - time.time()))
        assert run_state(api, run_id)["type"] == "COMPLETED"
