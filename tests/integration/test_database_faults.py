"""The database going away under a running command: one line, exit 2, nothing committed lost.

Every test runs its own embedded PostgreSQL (it is stopped on purpose), in a directory of
this session: a real server, stopped the ways an operator's bad day stops one (fast
shutdown, SIGINT to the postmaster; immediate shutdown, SIGQUIT, as after a crash).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from tests.integration.cli import clean_env
from tests.integration.conftest import private_home, repo_root
from tests.integration.processes import postmaster_pid, wait_all_gone
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import EMBEDDED_DATABASE, embedded_server, ensure_database, open_pool
from tgstat.app.database import socket_url as make_socket_url
from tgstat.app.migrate import MIGRATION_LOCK, migrate
from tgstat.ports.repository import DatabaseUnavailableError

DEMO = repo_root() / "examples" / "demo-channel.json"
SCENARIO = repo_root() / "tests" / "scenarios" / "worked-example.json"
LOST = re.compile(r"tgstat: error: database (connection lost|pool timeout after \d+ s): \S")


@contextlib.contextmanager
def own_server(home: Path) -> Iterator[str]:
    """The embedded PostgreSQL of ``home`` for the block: the URL of its database tgstat."""
    with embedded_server(home) as socket_dir:
        ensure_database(make_socket_url(socket_dir, "postgres"), EMBEDDED_DATABASE)
        yield make_socket_url(socket_dir, EMBEDDED_DATABASE)


def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tgstat.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_server(home: Path, signum: int) -> None:
    """Stop ``home``'s server with ``signum`` (SIGINT: fast, SIGQUIT: immediate) and wait."""
    pid = postmaster_pid(home)
    assert pid is not None
    os.kill(pid, signum)
    assert wait_all_gone([pid], 30) == []


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def count(url: str, query: str) -> int:
    """The number ``query`` answers, 0 while the server or the table is not there yet."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def assert_one_line_exit_2(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    assert len(err.splitlines()) == 1, err
    assert LOST.match(err), err
    return err


SNAPSHOTS = "SELECT count(*) FROM stat_post_snapshot"


class TestLostMidReplay:
    """A replay whose server stops under it ends in one line; what it committed stays."""

    def test_fast_shutdown_of_a_configured_server(self) -> None:
        home = private_home("db-fast-shutdown")
        with own_server(home) as url:
            proc = start("replay", str(DEMO), env=clean_env(TGSTAT_DATABASE_URL=url))
            wait_until(lambda: count(url, SNAPSHOTS) >= 100, proc)
            committed = count(url, SNAPSHOTS)
            stop_server(home, signal.SIGINT)
            assert_one_line_exit_2(proc)
        with own_server(home) as url:
            assert count(url, SNAPSHOTS) >= committed

    def test_crash_of_the_embedded_server(self) -> None:
        home = private_home("db-crash")
        url = make_socket_url(home.resolve() / "pg", EMBEDDED_DATABASE)
        proc = start("replay", str(DEMO), env=clean_env(TGSTAT_HOME=str(home)))
        wait_until(lambda: count(url, SNAPSHOTS) >= 100, proc)
        committed = count(url, SNAPSHOTS)
        stop_server(home, signal.SIGQUIT)  # immediate: no checkpoint, recovery at next start
        assert_one_line_exit_2(proc)
        with own_server(home) as url:
            assert count(url, SNAPSHOTS) >= committed


class TestLostWhileWaiting:
    """Commands blocked on a lock when the server stops: one line each, exit 2."""

    @pytest.mark.parametrize(
        ("args", "lock", "env"),
        [
            (["report"], "LOCK TABLE config__tg_channel IN ACCESS EXCLUSIVE MODE", {}),
            (["migrate"], "SELECT pg_advisory_lock(%s)", {}),
            (
                ["collect"],
                "LOCK TABLE stat_post IN ACCESS EXCLUSIVE MODE",
                {"TGSTAT_REPLAY_SCENARIO": str(SCENARIO)},
            ),
        ],
        ids=["report", "migrate", "collect"],
    )
    def test_fast_shutdown(self, args: list[str], lock: str, env: dict[str, str]) -> None:
        home = private_home("db-waiting")
        with own_server(home) as url:
            migrate(url)
            locker = psycopg.connect(url)
            try:
                locker.execute(lock, (MIGRATION_LOCK,) if "%s" in lock else None)
                proc = start(*args, env=clean_env(TGSTAT_DATABASE_URL=url, **env))
                waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                wait_until(lambda: count(url, waiting) > 0, proc)
                stop_server(home, signal.SIGINT)
                assert_one_line_exit_2(proc)
            finally:
                with contextlib.suppress(psycopg.Error):
                    locker.close()


class TestPoolTimeout:
    """No connection within the pool's timeout is DatabaseUnavailableError, cause chained."""

    async def test_every_connection_taken(self, db_url: str) -> None:
        async with open_pool(db_url, max_size=1, timeout_s=0.5) as pool:
            repository = PostgresStatRepository(pool)
            async with repository.session():
                with pytest.raises(
                    DatabaseUnavailableError, match=r"^database pool timeout after 0.5 s: "
                ) as raised:
                    async with repository.session():
                        pass
        assert isinstance(raised.value.__cause__, PoolTimeout)

    async def test_server_gone_between_sessions(self) -> None:
        home = private_home("db-pool-timeout")
        with own_server(home) as url:
            migrate(url)
            async with open_pool(url, max_size=2, timeout_s=1) as pool:
                repository = PostgresStatRepository(pool)
                async with repository.session() as s:
                    assert await s.list_channels() == []
                stop_server(home, signal.SIGINT)
                with pytest.raises(
                    DatabaseUnavailableError, match=r"^database pool timeout after 1 s: "
                ):
                    async with repository.session() as s:
                        await s.list_channels()

    async def test_lost_inside_a_session(self) -> None:
        home = private_home("db-lost-in-session")
        with own_server(home) as url:
            migrate(url)
            async with open_pool(url, max_size=2) as pool:
                repository = PostgresStatRepository(pool)
                with pytest.raises(
                    DatabaseUnavailableError, match=r"^database connection lost: "
                ) as raised:
                    async with repository.session() as s:
                        await s.list_channels()
                        stop_server(home, signal.SIGINT)
                        await s.list_channels()
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)
