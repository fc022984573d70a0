"""Helpers for tests of serving: real ``tgstat serve`` processes, their deployments and
runs on a real Prefect server, and a replay channel that answers slowly."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.processes import descendants, wait_all_gone

SLOW = 1900000099


@contextlib.contextmanager
def served(
    home: Path, log: Path, args: Sequence[str] = (), *, api_url: str | None = None, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``tgstat serve args`` in a real process (on ``api_url`` when given, else with its own
    local server); whatever a failing test leaves is killed, by pid, on the way out."""
    env = clean_env(TGSTAT_HOME=str(home), PREFECT_RUNNER_POLL_FREQUENCY="1", **extra)
    env.pop("PREFECT_API_URL", None)
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.cli", "serve", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        stop_leftovers(proc)


def stop_leftovers(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM to ``proc`` if it still runs, then SIGKILL to whatever of its tree is left."""
    if proc.poll() is not None:
        return
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


def wait_deployments(
    api: str, proc: subprocess.Popen[bytes], log: Path, names: Sequence[str] = ("tg-collect",)
) -> dict[str, str]:
    """Name -> id of the served deployments, once this runner registered both."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if "serving tg-collect, lake-etl" not in log.read_text(errors="replace"):
            time.sleep(0.5)
            continue
        with contextlib.suppress(httpx.HTTPError):
            found = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
            by_name = {d["name"]: d["id"] for d in found}
            if {"lake-etl", *names} <= by_name.keys():
                return by_name
        time.sleep(0.5)
    raise AssertionError(f"the deployments never appeared: {log.read_text()[-2000:]}")


def run_state(api: str, run_id: str) -> dict[str, Any]:
    """The run's current state (type, name, message, ...)."""
    state: dict[str, Any] = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]
    return state


def wait_state(api: str, run_id: str, wanted: str, timeout: float = 90) -> dict[str, Any]:
    """The run's state once its type is ``wanted``; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = run_state(api, run_id)
        if state and state["type"] == wanted:
            return state
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never {wanted} within {timeout:.0f} s: {state}")


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def slow_channel(home: Path, tmp_path: Path, seconds: int = 100) -> Path:
    """Register a replay channel, and script it to answer its first read with a FloodWait
    of ``seconds`` (the cycle waits it out, as it would for Telegram)."""
    now = datetime.now(UTC).replace(microsecond=0)
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
        "faults": [{"at": iso(posted), "call": "posts", "kind": "flood_wait", "seconds": seconds}],
    }
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    return tmp_path / "slow.json"
