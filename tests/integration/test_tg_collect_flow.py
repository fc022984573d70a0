"""The ``tg-collect`` flow on a real Prefect server and the real PostgreSQL.

Telegram is stood in for by TGSTAT_REPLAY_SCENARIO (a scenario served on the wall clock),
chosen at the composition root like a real deployment would choose Telethon.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.prefect_rest_scheduler import PrefectRestScheduler
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, PostId, SessionPk
from tgstat.domain.model import ChannelConfig, SealedSession
from tgstat.domain.planning import FollowUp, plan_runs

LIVE = ChannelId(1900000001)
GONE = ChannelId(1900000002)
Conn = psycopg.Connection[tuple[object, ...]]


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def live_scenario(path: Path) -> Path:
    """A channel whose posts were published in the last hours (wall clock)."""
    now = datetime.now(UTC).replace(microsecond=0)
    posts = [
        {
            "id": i,
            "date": iso(now - timedelta(hours=3 - i)),
            "text": f"post {i}",
            "views": [[iso(now - timedelta(hours=3 - i)), 10 * i]],
        }
        for i in (1, 2)
    ]
    path.write_text(
        json.dumps(
            {
                "channel": {"id": LIVE, "title": "Live", "username": "live"},
                "start": iso(now - timedelta(days=1)),
                "end": iso(now + timedelta(days=1)),
                "posts": posts,
                "admin_log": [
                    {
                        "id": 1,
                        "date": iso(now - timedelta(hours=1)),
                        "action": "join",
                        "user": {"id": 5, "first_name": "A"},
                    }
                ],
            }
        )
    )
    return path


@pytest.fixture(name="flow_env")
async def _flow_env(
    db_url: str,
    repo: PostgresStatRepository,
    tmp_path: Path,
    prefect_api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """Two configured channels; only LIVE answers (GONE is not in the scenario)."""
    async with repo.session() as s, s.transaction():
        pk = await s.upsert_session(SealedSession("replay:flow", 1, b"x", None))
        await s.upsert_channel(ChannelConfig(LIVE, "Live", SessionPk(pk), "live"))
        await s.upsert_channel(ChannelConfig(GONE, "Gone", SessionPk(pk)))
    scenario = live_scenario(tmp_path / "live.json")
    monkeypatch.setenv("TGSTAT_DATABASE_URL", db_url)
    monkeypatch.setenv("TGSTAT_REPLAY_SCENARIO", str(scenario))
    monkeypatch.setenv("TGSTAT_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_API_URL", prefect_api_url)
    with temporary_settings({PREFECT_API_URL: prefect_api_url}):
        yield scenario


async def run_logs(api: str, flow_run_id: Any) -> list[str]:
    messages: list[str] = []
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(20):
            r = await http.post(
                "/logs/filter", json={"logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}}
            )
            messages = [x["message"] for x in r.json()]
            if any("ended" in m for m in messages):
                return messages
            await asyncio.sleep(0.5)
    return messages


class TestFlow:
    """One channel's failure does not stop the others; the run fails, naming it."""

    async def test_one_channel_fails(self, flow_env: Path, db: Conn, prefect_api_url: str) -> None:
        from tgstat.flows.tg_collect_flow import tg_collect

        state = await tg_collect(return_state=True)
        assert state.is_failed()
        assert "'Gone'" in (state.message or "")
        assert "'Live'" not in (state.message or "").split("failed:")[1]
        assert db.execute(
            "SELECT tg_channel_id, count(*) FROM stat_post GROUP BY 1"
        ).fetchall() == [(LIVE, 2)]
        logs = await run_logs(prefect_api_url, state.state_details.flow_run_id)
        assert any("ended FAILED" in m and "Gone" in m for m in logs), logs

    async def test_selected_channel_only(self, flow_env: Path, db: Conn) -> None:
        from tgstat.flows.tg_collect_flow import tg_collect

        state = await tg_collect(channel="Live", return_state=True)
        assert state.is_completed()
        assert db.execute("SELECT count(*) FROM stat_user").fetchone() == (1,)

    async def test_overlap_is_skipped(
        self, flow_env: Path, repo: PostgresStatRepository, db: Conn
    ) -> None:
        from tgstat.flows.tg_collect_flow import tg_collect

        async with repo.channel_session(LIVE):  # another run is collecting LIVE
            busy = await tg_collect(channel=str(LIVE), return_state=True)
        assert busy.is_completed()
        assert busy.name == "Skipped"
        assert db.execute("SELECT count(*) FROM stat_post").fetchone() == (0,)
        free = await tg_collect(channel=str(LIVE), return_state=True)
        assert free.name == "Completed"
        assert db.execute("SELECT count(*) FROM stat_post").fetchone() == (2,)


class TestSessionRun:
    """An interval run of a session's deployment (``tgstat deploy``: parameter ``phone``)."""

    async def test_a_dry_run_session_is_found_by_its_stored_phone(
        self, flow_env: Path, db: Conn
    ) -> None:
        """A replay session's phone (``replay:...``) is no international number: it is
        matched as stored, not refused."""
        from tgstat.flows.tg_collect_flow import tg_collect

        state = await tg_collect(phone="replay:flow", return_state=True)
        # both channels of the session were collected: Live's two posts stored, Gone (not in
        # the scenario) failed alone
        assert db.execute("SELECT count(*) FROM stat_post").fetchone() == (2,)
        assert "1 of 2 channels failed: 'Gone'" in str(state.message)


class TestFollowUpRun:
    """A follow-up run measures its session's due follow-ups, reading nothing else."""

    async def test_measures_only_the_due_posts(self, flow_env: Path, db: Conn) -> None:
        from tgstat.flows.tg_collect_flow import tg_collect

        await tg_collect(channel="Live", return_state=True)  # posts 1 and 2 stored
        before = dict(snapshot_counts(db))
        now = datetime.now(UTC)
        due = now - timedelta(seconds=5)
        db.execute(
            "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at)"
            " VALUES (%s, 2, 3600, %s)",
            (LIVE, due),
        )

        # GONE (not in the scenario) has nothing due: untouched, so the run does not fail
        state = await tg_collect(
            phone="replay:flow",
            followup_at=due.replace(second=0, microsecond=0).isoformat(),
            followup_channels=[str(LIVE)],
            return_state=True,
        )

        assert state.is_completed(), state.message
        assert dict(snapshot_counts(db)) == {1: before[1], 2: before[2] + 1}
        [(measured_at, late_by_s)] = db.execute(
            "SELECT measured_at, late_by_s FROM stat_followup WHERE horizon_s = 3600"
        ).fetchall()
        assert measured_at is not None
        assert late_by_s < 60

    async def test_nothing_due_is_a_completed_run(self, flow_env: Path, db: Conn) -> None:
        from tgstat.flows.tg_collect_flow import tg_collect

        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        state = await tg_collect(
            phone="replay:flow", followup_at=minute.isoformat(), return_state=True
        )
        assert state.is_completed()
        assert state.message == "no follow-up left to measure"
        assert db.execute("SELECT count(*) FROM stat_post").fetchone() == (0,)


def snapshot_counts(db: Conn) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT tg_post_id, count(*) FROM stat_post_snapshot GROUP BY 1 ORDER BY 1"
    ).fetchall()


class TestServed:
    """``python -m tgstat.flows.serve`` runs follow-ups created over REST, skips stale runs."""

    def test_followup_runs_and_stale_interval_run_is_skipped(
        self,
        db_url: str,
        tmp_path: Path,
        prefect_api_url: str,
        repo: PostgresStatRepository,
        db: Conn,
    ) -> None:
        self._configure(db)
        scenario = live_scenario(tmp_path / "live.json")
        env = clean_env(
            TGSTAT_DATABASE_URL=db_url,
            TGSTAT_REPLAY_SCENARIO=str(scenario),
            TGSTAT_HOME=str(tmp_path),
            PREFECT_API_URL=prefect_api_url,
            PREFECT_RUNNER_POLL_FREQUENCY="1",
        )
        log = tmp_path / "runner.log"
        with log.open("wb") as out:  # a file, not a pipe nobody reads: the runner never blocks
            served = subprocess.Popen(
                [sys.executable, "-m", "tgstat.flows.serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        collected = run_tgstat("collect", env=env)  # posts 1 and 2 stored, as a tick would
        assert collected.returncode == 0, collected.stderr
        due = datetime.now(UTC) + timedelta(seconds=3)
        db.execute(
            "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at)"
            " VALUES (%s, 2, 3600, %s)",
            (LIVE, due),
        )
        try:
            followup_id = asyncio.run(self._schedule(prefect_api_url, db, due))
            stale_id = asyncio.run(self._stale_run(prefect_api_url))
            states = self._wait_final(prefect_api_url, [followup_id, stale_id], timeout=120)
            runner_log = log.read_text(errors="replace")[-4000:]
            assert states[followup_id] == ("COMPLETED", "Completed"), runner_log
            assert states[stale_id] == ("COMPLETED", "Skipped"), runner_log
            # the follow-up run measured the instant, 0-15 s late (the runner polls each 1 s)
            [(late_by_s,)] = db.execute(
                "SELECT late_by_s FROM stat_followup WHERE horizon_s = 3600"
            ).fetchall()
            assert late_by_s is not None, runner_log
            assert late_by_s < 60, runner_log
        finally:
            os.killpg(served.pid, signal.SIGINT)
            try:
                served.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(served.pid, signal.SIGKILL)

    @staticmethod
    def _configure(db: Conn) -> None:
        # a plain connection: this test is synchronous (the served process is another one)
        db.execute(
            "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number)"
            " VALUES (1, 'x', 'replay:served')"
        )
        db.execute(
            "INSERT INTO config__tg_channel"
            " (tg_channel_id, tg_channel_name, config__tg_bot_session_pool_pk)"
            " SELECT %s, 'Live', pk FROM config__tg_bot_session_pool",
            (LIVE,),
        )

    @staticmethod
    async def _deployment_id(http: httpx.AsyncClient) -> str:
        for _ in range(60):
            r = await http.post(
                "/deployments/filter",
                json={
                    "deployments": {"name": {"any_": ["tg-collect"]}},
                    "flows": {"name": {"any_": ["tg-collect"]}},
                },
            )
            if r.status_code == 200 and r.json():
                return str(r.json()[0]["id"])
            await asyncio.sleep(1)
        raise AssertionError("the served deployment never appeared")

    async def _schedule(self, api: str, db: Conn, due: datetime) -> str:
        """The follow-up run a cycle would plan for the follow-up at ``due``."""
        [(pk,)] = db.execute("SELECT pk FROM config__tg_bot_session_pool").fetchall()
        followup = FollowUp(LIVE, PostId(2), Horizon.H1, due)
        [(run, _)] = plan_runs([followup], SessionPk(int(str(pk))), "replay:served", due)
        async with httpx.AsyncClient(base_url=api) as http:
            await self._deployment_id(http)
            await PrefectRestScheduler(http).schedule(run)
            r = await http.post(
                "/flow_runs/filter",
                json={"flow_runs": {"idempotency_key": {"any_": [run.idempotency_key]}}},
            )
            return str(r.json()[0]["id"])

    async def _stale_run(self, api: str) -> str:
        async with httpx.AsyncClient(base_url=api) as http:
            deployment = await self._deployment_id(http)
            long_ago = datetime.now(UTC) - timedelta(minutes=20)
            r = await http.post(
                f"/deployments/{deployment}/create_flow_run",
                json={
                    "state": {
                        "type": "SCHEDULED",
                        "state_details": {"scheduled_time": long_ago.isoformat()},
                    },
                    "parameters": {},
                },
            )
            assert r.status_code in (200, 201), r.text
            return str(r.json()["id"])

    @staticmethod
    def _wait_final(api: str, ids: list[str], timeout: float) -> dict[str, tuple[str, str]]:
        deadline = time.monotonic() + timeout
        states: dict[str, tuple[str, str]] = {}
        with httpx.Client(base_url=api) as http:
            while time.monotonic() < deadline:
                for run_id in ids:
                    state = http.get(f"/flow_runs/{run_id}").json()["state"]
                    states[run_id] = (state["type"], state["name"])
                if all(t in ("COMPLETED", "FAILED", "CRASHED") for t, _ in states.values()):
                    return states
                time.sleep(1)
        raise AssertionError(f"runs did not finish in {timeout} s: {states}")
