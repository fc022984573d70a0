"""Benchmark: the CPU and latency of one served ``tg-collect`` flow run on a real Prefect server.

Usage: python bench/flow_run.py [--runs 5] [--poll 10] [--idle 20]

Starts what ``tgstat serve`` starts, in a throwaway TGSTAT_HOME: the embedded PostgreSQL, a
local Prefect server on its ``prefect`` database, and the runner (``python -m
tgstat.flows.serve``, runner poll every ``--poll`` s: Prefect's default is 10). tgstat's
database holds one channel (bench/_activity.py, 100 old posts) answered by a replay scenario on
the wall clock (a dry run).
The deployment's interval schedule is switched off, so only the benchmark's runs happen:
``--runs`` runs, one at a time, each scheduled 2 s ahead over REST (as follow-ups are).

Per run, from the server's record: scheduling-to-running latency (expected start to start),
run duration (running to completed); from /proc: the CPU of the run's subprocess (the
runner's reaped children), of the runner, of the Prefect server and of PostgreSQL over the
run, each minus its idle rate measured over ``--idle`` s with nothing to run. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from _activity import channel_scenario
from _common import (
    HelpFormatter,
    ServerProcesses,
    at_least,
    exit_on_stop_signals,
    throwaway_server,
)
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import ensure_database, open_pool, socket_url
from tgstat.app.migrate import migrate
from tgstat.app.prefect_server import local_prefect_server, stop_group
from tgstat.domain.ids import ChannelId, SessionPk
from tgstat.domain.model import ChannelConfig, SealedSession

CHANNEL = ChannelId(1_800_000_001)
PHONE = "replay:flow-bench"


def scenario(path: Path) -> Path:
    """One channel of bench/_activity.py whose live stretch is now (the runs read it on the
    wall clock): its history, the last day's posts, comments and joins."""
    now = datetime.now(UTC).replace(microsecond=0)
    raw = channel_scenario(1, CHANNEL, now, now + timedelta(days=1), history=100)
    path.write_text(json.dumps(raw))
    return path


async def configure(url: str) -> None:
    """The channel on one session, as ``add_channel`` would leave it."""
    async with open_pool(url, max_size=1) as pool:
        repository = PostgresStatRepository(pool)
        async with repository.session() as s, s.transaction():
            pk = await s.upsert_session(SealedSession(PHONE, 1, b"x", None))
            await s.upsert_channel(ChannelConfig(CHANNEL, "Flow bench", SessionPk(pk)))


class Cpu:
    """CPU seconds of a set of processes: ``own`` (a process and its live descendants) and
    ``reaped`` (children it has waited for)."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)

    def own(self) -> float:
        total = 0.0
        for p in (self.proc, *self.proc.children(recursive=True)):
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system
        return total

    def reaped(self) -> float:
        t = self.proc.cpu_times()
        return t.children_user + t.children_system


def _deployment(http: httpx.Client) -> dict[str, Any]:
    for _ in range(120):
        r = http.post(
            "/deployments/filter",
            json={
                "deployments": {"name": {"any_": ["tg-collect"]}},
                "flows": {"name": {"any_": ["tg-collect"]}},
            },
        )
        if r.status_code == 200 and r.json():
            return dict(r.json()[0])
        time.sleep(0.5)
    raise SystemExit("the served tg-collect deployment never appeared")


def quiet(http: httpx.Client, deployment: dict[str, Any]) -> None:
    """No interval runs: schedules off, the runs already made for them deleted."""
    for schedule in deployment.get("schedules") or []:
        http.patch(
            f"/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False}
        )
    r = http.post(
        "/flow_runs/filter",
        json={
            "flow_runs": {
                "deployment_id": {"any_": [deployment["id"]]},
                "state": {"type": {"any_": ["SCHEDULED"]}},
            }
        },
    )
    for run in r.json():
        http.delete(f"/flow_runs/{run['id']}")


def reaped(runner_pid: int, timeout: float = 20) -> None:
    """Wait until the runner has waited for its run processes (their CPU is then its
    children's)."""
    deadline = time.monotonic() + timeout
    runner = psutil.Process(runner_pid)
    while time.monotonic() < deadline:
        # a run process is `python -m prefect.engine`-like: anything started in the last
        # minute; the runner's long-lived helpers are older
        if not [p for p in runner.children() if time.time() - p.create_time() < 60]:
            return
        time.sleep(0.1)


def one_run(
    http: httpx.Client,
    deployment_id: str,
    meters: dict[str, Any],
    runner_pid: int,
    followup: bool,
) -> dict[str, Any]:
    before = {name: read() for name, read in meters.items()}
    at = datetime.now(UTC) + timedelta(seconds=2)
    body: dict[str, Any] = {
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": at.isoformat()}}
    }
    if followup:  # as PrefectRestScheduler makes them: the session's follow-ups of a minute
        body["parameters"] = {"phone": PHONE, "followup_at": at.strftime("%Y-%m-%dT%H:%M:00Z")}
        body["tags"] = ["tgstat", "followup"]
    r = http.post(f"/deployments/{deployment_id}/create_flow_run", json=body)
    r.raise_for_status()
    run_id = r.json()["id"]
    started = time.monotonic()
    while True:
        run = http.get(f"/flow_runs/{run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        if time.monotonic() - started > 180:
            raise SystemExit(f"run {run_id} did not finish in 180 s: {run['state']}")
        time.sleep(0.2)
    reaped(runner_pid)
    after = {name: read() for name, read in meters.items()}
    span = time.monotonic() - started

    def stamp(key: str) -> datetime:
        return datetime.fromisoformat(run[key])

    return {
        "state": run["state"]["name"],
        "latency_s": (stamp("start_time") - stamp("expected_start_time")).total_seconds(),
        "duration_s": (stamp("end_time") - stamp("start_time")).total_seconds(),
        "span_s": span,
        **{f"{k}_cpu_s": after[k] - before[k] for k in meters},
    }


def main() -> None:
    exit_on_stop_signals()  # SIGTERM unwinds: runner, Prefect server, PostgreSQL stopped
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--runs", type=at_least(1), default=5, help="measured runs")
    parser.add_argument(
        "--poll", type=at_least(1, float), default=10, help="PREFECT_RUNNER_POLL_FREQUENCY"
    )
    parser.add_argument(
        "--idle", type=at_least(1, float), default=20, help="seconds to measure idle CPU"
    )
    parser.add_argument(
        "--followup", action="store_true", help="follow-up runs (phone, followup_at), not full"
    )
    args = parser.parse_args()
    with throwaway_server() as (sock, home), local_prefect_server(home) as server:
        ensure_database(socket_url(sock, "postgres"), "tgstat")
        url = socket_url(sock, "tgstat")
        migrate(url)
        asyncio.run(configure(url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGSTAT_")}
        env.update(
            TGSTAT_DATABASE_URL=url,
            TGSTAT_REPLAY_SCENARIO=str(scenario(home / "channel.json")),
            TGSTAT_HOME=str(home),
            PREFECT_API_URL=server.api_url,
            PREFECT_RUNNER_POLL_FREQUENCY=f"{args.poll:g}",
        )
        with (home / "runner.log").open("wb") as log:
            runner = subprocess.Popen(
                [sys.executable, "-m", "tgstat.flows.serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            figures = measure(args, server.api_url, server.process.pid, runner.pid, home)
        finally:
            stop_group(runner, 10)
    print(json.dumps(figures), flush=True)


def measure(
    args: argparse.Namespace, api: str, server_pid: int, runner_pid: int, home: Path
) -> dict:
    runner, prefect, pg = Cpu(runner_pid), Cpu(server_pid), ServerProcesses(home / "pg")
    meters = {
        "run_process": runner.reaped,
        "runner": runner.own,
        "prefect_server": prefect.own,
        "postgres": pg.cpu_s,
    }
    with httpx.Client(base_url=api, timeout=30) as http:
        deployment = _deployment(http)
        quiet(http, deployment)
        time.sleep(2)
        # warm-up: first-run caches, not counted
        one_run(http, deployment["id"], meters, runner.proc.pid, args.followup)
        before = {name: read() for name, read in meters.items()}
        time.sleep(args.idle)
        idle = {k: (read() - before[k]) / args.idle for k, read in meters.items()}
        runs = [
            one_run(http, deployment["id"], meters, runner.proc.pid, args.followup)
            for _ in range(args.runs)
        ]
    for run in runs:
        print(
            f"run {run['state']}: latency {run['latency_s']:.1f} s,"
            f" duration {run['duration_s']:.2f} s,"
            f" run process {run['run_process_cpu_s']:.2f} CPU s,"
            f" runner {run['runner_cpu_s']:.2f}, Prefect server {run['prefect_server_cpu_s']:.2f},"
            f" PostgreSQL {run['postgres_cpu_s']:.2f} over {run['span_s']:.1f} s",
            flush=True,
        )

    def mean(key: str) -> float:
        return round(statistics.fmean(r[key] for r in runs), 3)

    def net(name: str) -> float:
        return round(
            statistics.fmean(r[f"{name}_cpu_s"] - idle[name] * r["span_s"] for r in runs), 3
        )

    total = sum(net(name) for name in meters)
    return {
        "runs": len(runs),
        "completed": sum(r["state"] == "Completed" for r in runs),
        "kind": "followup" if args.followup else "collection",
        "poll_s": args.poll,
        "latency_s": mean("latency_s"),
        "latency_s_max": round(max(r["latency_s"] for r in runs), 3),
        "duration_s": mean("duration_s"),
        "run_process_cpu_s": mean("run_process_cpu_s"),
        "runner_cpu_s": net("runner"),
        "prefect_server_cpu_s": net("prefect_server"),
        "postgres_cpu_s": net("postgres"),
        "cpu_s_per_run": round(total, 3),
        "idle_cpu_s_per_s": {k: round(v, 4) for k, v in idle.items() if k != "run_process"},
    }


if __name__ == "__main__":
    main()
