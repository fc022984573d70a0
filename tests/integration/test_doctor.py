"""``tgstat doctor`` on a healthy setup, then with each part broken in turn: the real database,
a real Prefect server with a real runner serving both deployments, a real lake directory."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.fernet_sealer import FernetSealer

Conn = psycopg.Connection[tuple[object, ...]]
PARTS = ("database", "sessions", "follow-ups", "secret key", "prefect", "lake")


@pytest.fixture(name="runner", scope="module")
def _runner(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``python -m tgstat.flows.serve`` serving both deployments on the session's server
    (its runs, if any start, fail at once: their database is nowhere)."""
    log = tmp_path_factory.mktemp("doctor-runner") / "runner.log"
    env = clean_env(
        PREFECT_API_URL=prefect_api_url,
        TGSTAT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.flows.serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while not _served(prefect_api_url):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # the server is the session's: leave it without these deployments, as it was
        for deployment in _deployments(prefect_api_url):
            httpx.delete(f"{prefect_api_url}/deployments/{deployment['id']}", timeout=5)


def _deployments(api: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = httpx.post(
        f"{api}/deployments/filter",
        json={"deployments": {"name": {"any_": ["tg-collect", "lake-etl"]}}},
        timeout=5,
    ).json()
    return found


def _served(api: str) -> bool:
    return sorted((d["name"], d["status"]) for d in _deployments(api)) == [
        ("lake-etl", "READY"),
        ("tg-collect", "READY"),
    ]


@pytest.fixture(name="healthy")
def _healthy(
    db_url: str, db: Conn, tmp_path: Path, prefect_api_url: str, runner: None
) -> dict[str, str]:
    """The environment of a working setup: a sealed session, a channel collected a minute
    ago, a follow-up due later, a flattened lake day, Prefect serving both flows."""
    key = FernetSealer.generate_key()
    seal = FernetSealer(key)
    db.execute(
        "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number, session_bytes)"
        " VALUES (1, %s, '+15550001234', %s)",
        (seal.seal(b"0" * 32), seal.seal(b"a session file")),
    )
    db.execute(
        "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name,"
        " config__tg_bot_session_pool_pk, last_collected_at)"
        " SELECT 1900000123, 'Doctor', pk, now() - interval '1 minute'"
        " FROM config__tg_bot_session_pool"
    )
    db.execute(
        'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link, date_of_post)'
        " VALUES (now() - interval '1 minute', 1900000123, 7, 'https://t.me/c/1900000123/7',"
        " now() - interval '10 minutes')"
    )
    db.execute(
        "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at, scheduled_at)"
        " VALUES (1900000123, 7, 3600, now() + interval '50 minutes', now())"
    )
    lake = tmp_path / "lake"
    for area in ("raw", "enriched"):
        (lake / area / "telegram" / "context_date=2026-11-01").mkdir(parents=True)
    return clean_env(
        TGSTAT_HOME=str(tmp_path),
        TGSTAT_DATABASE_URL=db_url,
        TGSTAT_SECRET_KEY=key.decode(),
        PREFECT_API_URL=prefect_api_url,
    )


def doctor(env: dict[str, str]) -> tuple[int, dict[str, tuple[str, str]]]:
    """Exit code and, per check, (verdict, detail)."""
    done = run_tgstat("doctor", env=env, timeout=60)
    assert done.stderr == "", done.stderr
    lines = done.stdout.strip().splitlines()
    checks = {}
    for line in lines[:-1]:
        verdict, rest = line.split(maxsplit=1)
        name, detail = rest.split("  ", 1)
        checks[name.strip()] = (verdict, detail.strip())
    return done.returncode, checks


def failed(checks: dict[str, tuple[str, str]]) -> list[str]:
    return [name for name, (verdict, _) in checks.items() if verdict == "FAIL"]


class TestHealthy:
    """Everything in place: every line ok, exit 0."""

    def test_all_ok(self, healthy: dict[str, str]) -> None:
        code, checks = doctor(healthy)
        assert {name: verdict for name, (verdict, _) in checks.items()} == {
            **dict.fromkeys(PARTS, "ok"),
            "channel 'Doctor'": "ok",
        }
        assert code == 0
        assert "tg-collect and lake-etl served" in checks["prefect"][1]
        assert "1 enabled" in checks["sessions"][1]
        assert "opens the 1 stored sessions" in checks["secret key"][1]


class TestBroken:
    """Each broken part is named (and only that one), and the exit code is 1."""

    def test_database_down(self, healthy: dict[str, str]) -> None:
        env = {**healthy, "TGSTAT_DATABASE_URL": "postgresql://tg:pw-secret@127.0.0.1:1/tgstat"}
        code, checks = doctor(env)
        assert code == 1
        assert failed(checks) == ["database"]
        assert "cannot connect to PostgreSQL at" in checks["database"][1]
        assert "pw-secret" not in str(checks)
        assert checks["sessions"][0] == "skip"

    def test_banned_only_sessions(self, healthy: dict[str, str], db: Conn) -> None:
        db.execute(
            "UPDATE config__tg_bot_session_pool SET status = 'banned', status_changed_at = now(),"
            " status_reason = 'AuthKeyUnregisteredError'"
        )
        code, checks = doctor(healthy)
        assert code == 1
        assert failed(checks) == ["sessions"]
        assert "all 1 banned" in checks["sessions"][1]
        assert "AuthKeyUnregisteredError" in checks["sessions"][1]

    def test_prefect_down(self, healthy: dict[str, str]) -> None:
        code, checks = doctor({**healthy, "PREFECT_API_URL": "http://127.0.0.1:1/api"})
        assert code == 1
        assert failed(checks) == ["prefect"]
        assert "cannot reach the Prefect server at http://127.0.0.1:1/api" in checks["prefect"][1]

    def test_unwritable_lake(self, healthy: dict[str, str], tmp_path: Path) -> None:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        code, checks = doctor({**healthy, "TGSTAT_LAKE_URL": str(blocker / "lake")})
        assert code == 1
        assert failed(checks) == ["lake"]
        assert "is not writable" in checks["lake"][1]

    def test_wrong_key(self, healthy: dict[str, str]) -> None:
        other = FernetSealer.generate_key().decode()
        code, checks = doctor({**healthy, "TGSTAT_SECRET_KEY": other})
        assert code == 1
        assert failed(checks) == ["secret key"]
        assert "not the key it was encrypted with" in checks["secret key"][1]
        assert other not in str(checks)

    def test_missing_key_file(self, healthy: dict[str, str]) -> None:
        env = {k: v for k, v in healthy.items() if k != "TGSTAT_SECRET_KEY"}
        code, checks = doctor(env)
        assert code == 1
        assert failed(checks) == ["secret key"]
        assert "no secret key: TGSTAT_SECRET_KEY is unset" in checks["secret key"][1]
        assert "(1 stored sessions)" in checks["secret key"][1]
        assert not (Path(env["TGSTAT_HOME"]) / "secret.key").exists()  # doctor creates nothing


class TestWarnings:
    """What deserves attention but works: a warning, exit 0."""

    def test_stale_channel_overdue_followup_unflattened_day(
        self, healthy: dict[str, str], db: Conn, tmp_path: Path
    ) -> None:
        # a post row refreshed a minute ago does not make a cycle that never completed
        db.execute("UPDATE config__tg_channel SET last_collected_at = now() - interval '2 hours'")
        db.execute(
            "UPDATE stat_followup SET due_at = now() - interval '1 hour', scheduled_at = NULL"
        )
        (tmp_path / "lake" / "raw" / "telegram" / "context_date=2026-11-02").mkdir()
        code, checks = doctor(healthy)
        assert code == 0
        assert checks["channel 'Doctor'"][0] == "warn"
        assert "collected 2 h ago" in checks["channel 'Doctor'"][1]
        assert checks["follow-ups"][0] == "warn"
        assert "1 overdue" in checks["follow-ups"][1]
        assert checks["lake"] == (
            "warn",
            f"{tmp_path / 'lake'}: writable; 1 raw days not flattened (2026-11-02):"
            " `tgstat lake etl --date YYYY-MM-DD`",
        )
