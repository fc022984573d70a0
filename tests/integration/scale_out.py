"""Helpers for the scale-out tests: dry-run channels on sessions with phone numbers, real
``prefect worker`` processes, and what the Prefect server and the database say of the runs."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
from psycopg import sql

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.processes import descendants, wait_all_gone
from tests.integration.serving import iso, stop_leftovers
from tgstat.app.database import connect, embedded_server, socket_url


@attrs.frozen
class DryChannel:
    """A dry-run channel on a session of its own, with a real-looking phone number."""

    channel_id: int
    title: str
    phone: str
    session_pk: int
    scenario: Path

    @property
    def deployment(self) -> str:
        """The name ``tgstat deploy`` gives its session's deployment (and work queue)."""
        return f"tg-collect-s{self.session_pk}"


def dry_channel(home: Path, tmp_path: Path, channel_id: int, phone: str) -> DryChannel:
    """Register a channel (``tgstat replay`` of a scenario with no post yet) and give its
    session ``phone`` (a dry run's session is named ``replay:<id>``, which ``phone=`` cannot
    select); its wall-clock scenario is written by ``publish``."""
    now = datetime.now(UTC).replace(microsecond=0)
    title = f"Channel {channel_id}"
    base = {
        "channel": {"id": channel_id, "title": title, "username": f"c{channel_id}"},
        "start": iso(now - timedelta(hours=3)),
        "end": iso(now - timedelta(hours=3) + timedelta(minutes=5)),
        "posts": [],
    }
    registered = tmp_path / f"register-{channel_id}.json"
    registered.write_text(json.dumps(base))
    done = run_tgstat("replay", str(registered), env=clean_env(TGSTAT_HOME=str(home)))
    assert done.returncode == 0, done.stderr
    with embedded_server(home) as sockets, connect(socket_url(sockets, "tgstat")) as conn:
        row = conn.execute(
            sql.SQL(
                "UPDATE config__tg_bot_session_pool SET phone_number = %s WHERE pk ="
                " (SELECT config__tg_bot_session_pool_pk FROM config__tg_channel"
                " WHERE tg_channel_id = %s) RETURNING pk"
            ),
            (phone, channel_id),
        ).fetchone()
        conn.commit()
    assert row is not None
    channel = DryChannel(
        channel_id, title, phone, int(row[0]), tmp_path / f"live-{channel_id}.json"
    )
    publish(channel, due_in=timedelta(minutes=1))
    return channel


def publish(channel: DryChannel, due_in: timedelta) -> None:
    """(Re)write the channel's wall-clock scenario: one post published an hour minus
    ``due_in`` ago, so its first collection finds it new and plans its 1 h follow-up
    ``due_in`` from now (a run reads the scenario when it starts)."""
    now = datetime.now(UTC).replace(microsecond=0)
    posted = now - timedelta(hours=1) + due_in
    views = [[iso(posted), 10], [iso(now), 50], [iso(now + timedelta(minutes=5)), 90]]
    live = {
        "channel": {
            "id": channel.channel_id,
            "title": channel.title,
            "username": f"c{channel.channel_id}",
        },
        "start": iso(now - timedelta(hours=3)),
        "end": iso(now + timedelta(days=1)),
        "posts": [{"id": 1, "date": iso(posted), "text": "hello", "views": views}],
    }
    channel.scenario.write_text(json.dumps(live))


@contextlib.contextmanager
def worker(
    pool: str, queues: list[str], log: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``prefect worker start`` on ``queues`` of ``pool``, in a process group of its own;
    stopped (SIGTERM, then SIGKILL to whatever of its tree is left) on the way out."""
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool]
    command += ["--type", "process"]
    for queue in queues:
        command += ["--work-queue", queue]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        tree = [proc.pid, *descendants(proc.pid)]
        stop_leftovers(proc)
        assert wait_all_gone(tree, 10) == []


def worker_env(api: str, home: Path, channel: DryChannel) -> dict[str, str]:
    """A worker's environment: this machine's settings, answering ``channel``'s scenario."""
    return clean_env(
        PREFECT_API_URL=api,
        TGSTAT_HOME=str(home),
        TGSTAT_REPLAY_SCENARIO=str(channel.scenario),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="2",
    )


def flow_runs(api: str, **filters: Any) -> list[dict[str, Any]]:
    """Flow runs matching ``filters`` (the body of ``POST /flow_runs/filter``)."""
    found: list[dict[str, Any]] = httpx.post(
        f"{api}/flow_runs/filter", json={"limit": 200, **filters}, timeout=10
    ).json()
    return found


def deployments(api: str) -> dict[str, dict[str, Any]]:
    """Name -> deployment, of every deployment on the server."""
    found = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    return {d["name"]: d for d in found}


def snapshot_times(home: Path) -> dict[int, list[datetime]]:
    """Channel id -> the instants its posts' counters were read, in order (one per
    collection that reached the channel)."""
    with embedded_server(home) as sockets, connect(socket_url(sockets, "tgstat")) as conn:
        rows = conn.execute(
            "SELECT DISTINCT tg_channel_id, taken_at FROM stat_post_snapshot ORDER BY 1, 2"
        ).fetchall()
    found: dict[int, list[datetime]] = {}
    for channel_id, taken_at in rows:
        found.setdefault(int(channel_id), []).append(taken_at)
    return found


def overlapping(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of runs whose start..end intervals overlap."""
    spans = sorted(
        (datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"]), r["id"])
        for r in runs
        if r["start_time"] and r["end_time"]
    )
    return [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
