"""Scaling out as the README tells: stopping one of several serve processes never pauses
collection; ``tgstat deploy`` on a process work pool with one ``prefect worker`` per session,
on a Prefect server kept in the embedded PostgreSQL, collecting two channels of two sessions
on the wall clock (dry run) every interval, none twice at once."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.conftest import private_home
from tests.integration.processes import command_line, descendants, wait_all_gone
from tests.integration.scale_out import (
    DryChannel,
    deployments,
    dry_channel,
    flow_runs,
    publish,
    snapshot_times,
    worker,
    worker_env,
)
from tests.integration.serving import served, wait_deployments
from tgstat.app.prefect_server import free_port
from tgstat.flows.serve.crash_detection import AUTOMATION_NAME

INTERVAL_S = 20  # 300 s in production; a flow run takes 3-25 s here (2 cores, shared)
OBSERVED_S = 100.0  # 5 intervals: the simulated hour shortened to fit the time budget
SETTLE_S = 60.0  # for runs of the window that a loaded machine started late
POOL = "tgstat-test"
PHONES = ("+15550000001", "+15550000002")


class TestTwoServeProcesses:
    """SIGTERM to one of two serve processes leaves the shared deployment unpaused, its
    future scheduled runs in place, and the other process running them."""

    def test_stopping_one_never_pauses_the_other(
        self, prefect_api_url: str, tmp_path: Path
    ) -> None:
        api, home = prefect_api_url, private_home("two-serve-home")
        channel = dry_channel(home, tmp_path, 1900000201, PHONES[0])
        extra = {"TGSTAT_REPLAY_SCENARIO": str(channel.scenario)}
        args = ["--interval", str(INTERVAL_S)]
        with (
            served(home, tmp_path / "a.log", args, api_url=api, **extra) as first,
            served(home, tmp_path / "b.log", args, api_url=api, **extra) as second,
        ):
            deployment = wait_deployments(api, first, tmp_path / "a.log")["tg-collect"]
            wait_deployments(api, second, tmp_path / "b.log")
            self._completed_since(api, deployment, datetime.now(UTC), count=1)
            later = datetime.now(UTC) + timedelta(seconds=40)
            future = self._scheduled_after(api, deployment, later)
            assert future, "no future interval run to keep"
            tree = [first.pid, *descendants(first.pid)]
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=15) == 0
            assert wait_all_gone(tree, 15) == []
            stopped = datetime.now(UTC)
            found = httpx.get(f"{api}/deployments/{deployment}", timeout=5).json()
            assert found["paused"] is False
            assert all(s["active"] for s in found["schedules"])
            assert future <= self._scheduled_after(api, deployment, later)  # none deleted
            self._completed_since(api, deployment, stopped, count=2)  # run by the other
            assert second.poll() is None

    @staticmethod
    def _scheduled_after(api: str, deployment: str, after: datetime) -> set[str]:
        runs = flow_runs(
            api,
            deployments={"id": {"any_": [deployment]}},
            flow_runs={"state": {"type": {"any_": ["SCHEDULED"]}}},
        )
        return {r["id"] for r in runs if datetime.fromisoformat(r["expected_start_time"]) > after}

    @staticmethod
    def _completed_since(api: str, deployment: str, since: datetime, count: int) -> None:
        deadline = time.monotonic() + 60
        done: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            done = [
                r
                for r in flow_runs(
                    api,
                    deployments={"id": {"any_": [deployment]}},
                    flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}},
                )
                if r["start_time"] and datetime.fromisoformat(r["start_time"]) > since
            ]
            if len(done) >= count:
                return
            time.sleep(1)
        raise AssertionError(f"{len(done)} runs completed since {since}, not {count}")


@attrs.frozen
class Cluster:
    """A Prefect server on the embedded PostgreSQL, two sessions' channels, ``tgstat
    deploy`` done twice, one worker per session that ran from ``started`` to ``ended``."""

    api: str
    home: Path
    channels: tuple[DryChannel, DryChannel]
    deploy_output: str
    deployed: tuple[dict[str, str], dict[str, str]]  # name -> ids, after each deploy
    started: datetime
    ended: datetime


@contextlib.contextmanager
def prefect_server_only(home: Path, log: Path) -> Iterator[str]:
    """``tgstat serve --server-only``: the Prefect server on the embedded PostgreSQL of
    ``home``, serving nothing; yields its API URL once it answers."""
    port = free_port()
    with served(home, log, ["--server-only", "--port", str(port)]) as proc:
        api = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 120
        while "serving nothing" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert httpx.get(f"{api}/health", timeout=5).status_code == 200
        children = " | ".join(command_line(p) for p in descendants(proc.pid))
        assert "prefect server start" in children
        assert "tgstat.flows.serve" not in children  # no runner
        yield api
        assert proc.poll() is None, "the server died while the workers ran"


def deploy(api: str, home: Path) -> tuple[str, dict[str, str]]:
    """``tgstat deploy`` as a user runs it: its output, then name -> id of the deployments."""
    env = clean_env(PREFECT_API_URL=api, TGSTAT_HOME=str(home))
    done = run_tgstat("deploy", "--pool", POOL, "--interval", str(INTERVAL_S), env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    found = deployments(api)
    return done.stdout, {
        n: f"{d['id']} {[x['id'] for x in d['schedules']]}" for n, d in found.items()
    }


@pytest.fixture(name="cluster", scope="module")
def _cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home, tmp = private_home("scale-home"), tmp_path_factory.mktemp("scale")
    channels = (
        dry_channel(home, tmp, 1900000301, PHONES[0]),
        dry_channel(home, tmp, 1900000302, PHONES[1]),
    )
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(prefect_server_only(home, tmp / "server.log"))
        # the workers first (they make the pool): no backlog of runs due before they start
        queues = [[c.deployment] for c in channels]
        queues[0] += ["tg-collect", "lake-etl"]  # the shared queues: on one of the workers
        for i, channel in enumerate(channels):
            log = tmp / f"worker-{i}.log"
            stack.enter_context(worker(POOL, queues[i], log, worker_env(api, home, channel)))
        for channel in channels:  # a follow-up due within the window, on each session
            publish(channel, due_in=timedelta(seconds=45))
        output, first = deploy(api, home)
        started = datetime.now(UTC)
        _, second = deploy(api, home)  # again: idempotent
        time.sleep(max(0.0, OBSERVED_S - (datetime.now(UTC) - started).total_seconds()))
        ended = datetime.now(UTC)
        settle(api, started, ended)
        yield Cluster(api, home, channels, output, (first, second), started, ended)


def settle(api: str, started: datetime, ended: datetime) -> None:
    """Wait (at most SETTLE_S) until every interval run due in the window has ended."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and [
        r for r in due_runs(api, started, ended) if r["state_type"] not in FINAL
    ]:
        time.sleep(1)


FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def due_runs(api: str, started: datetime, ended: datetime) -> list[dict[str, Any]]:
    """The session deployments' interval runs due from one interval after ``started`` (the
    workers are up) to ``ended``."""
    ids = [d["id"] for n, d in deployments(api).items() if n.startswith("tg-collect-s")]
    low = started + timedelta(seconds=INTERVAL_S)
    window = {"after_": low.isoformat(), "before_": ended.isoformat()}
    runs = flow_runs(  # (100 future runs a deployment: the filter, not a page, picks them)
        api, deployments={"id": {"any_": ids}}, flow_runs={"expected_start_time": window}
    )
    return [r for r in runs if r["auto_scheduled"]]


class TestDeploy:
    """``tgstat deploy --pool`` makes one deployment per session, idempotently."""

    def test_one_deployment_per_session(self, cluster: Cluster) -> None:
        found = deployments(cluster.api)
        sessions = [c.deployment for c in cluster.channels]
        assert {*sessions, "tg-collect", "lake-etl"} <= found.keys()
        for name, phone in zip(sessions, PHONES, strict=True):
            assert found[name]["parameters"] == {"phone": phone}
            assert found[name]["work_pool_name"] == POOL
            assert found[name]["work_queue_name"] == name
            assert found[name]["schedules"][0]["schedule"]["interval"] == INTERVAL_S
        assert found["tg-collect"]["schedules"] == []  # follow-ups only
        assert "prefect worker start --pool tgstat-test" in cluster.deploy_output
        assert not any(p in cluster.deploy_output for p in PHONES)  # no phone in output

    def test_deploying_again_changes_nothing(self, cluster: Cluster) -> None:
        """Same deployments, same schedules (re-made schedules would delete the scheduled
        runs, one of them maybe just picked up by a worker)."""
        first, second = cluster.deployed
        assert first == second
        automations = httpx.post(f"{cluster.api}/automations/filter", json={}).json()
        assert [a["name"] for a in automations] == [AUTOMATION_NAME]


class TestCollection:
    """Every channel is collected every interval by its session's worker, never twice at
    once: every interval run due in the window ran, collecting its channel or, when a run
    started late by the loaded machine was still at it, skipped by the channel's lock."""

    def test_every_interval_run_ran(self, cluster: Cluster) -> None:
        due = due_runs(cluster.api, cluster.started, cluster.ended)
        names = {d["id"]: n for n, d in deployments(cluster.api).items()}
        per_session = {c.deployment: 0 for c in cluster.channels}
        for run in due:
            per_session[names[run["deployment_id"]]] += 1
        assert min(per_session.values()) >= OBSERVED_S / INTERVAL_S - 2, per_session
        states = sorted({(r["state_type"], r["state_name"]) for r in due})
        assert set(states) <= {("COMPLETED", "Completed"), ("COMPLETED", "Skipped")}, states

    def test_each_channel_is_read_by_its_session(self, cluster: Cluster) -> None:
        """A worker answers only its own channel (its scenario): reads of a channel during
        the window mean its session's runs reached that worker, and none failed elsewhere."""
        times = snapshot_times(cluster.home)
        for channel in cluster.channels:
            seen = [t for t in times[channel.channel_id] if cluster.started <= t]
            assert len(seen) >= 2, seen


class TestFollowUps:
    """A follow-up run goes to the deployment of the channel's session (flow tg-collect,
    default parameters.phone the session's), so to its worker, and carries phone=."""

    def test_follow_ups_land_on_the_session_deployment(self, cluster: Cluster) -> None:
        found = deployments(cluster.api)
        by_id = {d["id"]: name for name, d in found.items()}
        runs = flow_runs(cluster.api, flow_runs={"tags": {"all_": ["followup"]}})
        assert runs, "no follow-up run was planned"
        for run in runs:
            session = by_id[run["deployment_id"]]
            assert run["parameters"]["phone"] == found[session]["parameters"]["phone"]
            assert run["work_queue_name"] == session
        ran = [r for r in runs if r["state_type"] not in ("SCHEDULED", "PENDING")]
        assert ran
        assert all(r["state_type"] == "COMPLETED" for r in ran)
