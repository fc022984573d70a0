"""Real PostgreSQL for integration tests: the embedded server, or TGSTAT_TEST_DATABASE_URL.

The session migrates one template database with the real dbmate migrations; every test gets
its own database cloned from it (CREATE DATABASE ... TEMPLATE, ~70 ms), so tests commit for
real and still cannot see each other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.integration.processes import postmasters, wait_all_gone
from tgstat.adapters.postgres import Pool, PostgresStatRepository
from tgstat.app.database import embedded_server, open_pool, socket_url
from tgstat.app.migrate import migrate
from tgstat.app.prefect_server import local_prefect_server
from tgstat.domain.errors import TgstatError

TEMPLATE = f"tgstat_test_template_{os.getpid()}"


_homes: list[Path] = []


def private_home(name: str) -> Path:
    """A fresh directory of this test session only (kept after the session, for its logs)."""
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    _homes.append(home)
    return home


@pytest.fixture(name="nothing_left_running", scope="session", autouse=True)
def _nothing_left_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After every other fixture is torn down: no PostgreSQL runs in a directory of this
    session. One left behind (a command killed before it could stop its server) is stopped,
    and the session fails naming its directory, so nothing outlives a green run."""
    yield
    roots = [*_homes, tmp_path_factory.getbasetemp()]
    left = [(pid, d) for pid, d in postmasters() if any(d.is_relative_to(r) for r in roots)]
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # fast shutdown
    assert wait_all_gone([pid for pid, _ in left], 10) == []
    if left:
        pytest.fail(f"PostgreSQL left running (now stopped) in {[str(d) for _, d in left]}")


def with_database(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(name="server_url", scope="session")
def _server_url() -> Iterator[str]:
    """URL of a maintenance database on a real server; aborts the run when unreachable.

    The embedded server lives in a private temp directory, not under pytest's shared
    ``pytest-of-<user>`` root: another pytest session resets that root's permissions, which
    locked a running server (started as the ``pgserver`` user) out of its own data.
    """
    with contextlib.ExitStack() as stack:  # the embedded server stops on the way out
        url = os.environ.get("TGSTAT_TEST_DATABASE_URL") or socket_url(
            stack.enter_context(embedded_server(private_home("tgstat-home"))),
            "postgres",
        )
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as e:
            pytest.exit(f"integration tests need PostgreSQL; cannot connect: {e}", returncode=3)
        yield url


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(name="template_url", scope="session")
def _template_url(server_url: str) -> Iterator[str]:
    """A database migrated once with the real dbmate migrations."""
    url = with_database(server_url, TEMPLATE)
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TEMPLATE)))
    try:
        migrate(url)  # dbmate creates the database
    except TgstatError as e:
        pytest.exit(f"migrations failed: {e}", returncode=3)
    yield url
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )


def fresh_database(server_url: str, template: str | None) -> str:
    name = f"tgstat_test_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
    return name


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(name="db_url")
def _db_url(server_url: str, template_url: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    name = fresh_database(server_url, TEMPLATE)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture(name="empty_db_url")
def _empty_db_url(server_url: str) -> Iterator[str]:
    """An empty database (no migrations) of this test's own."""
    name = fresh_database(server_url, None)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture(name="pool")
async def _pool(db_url: str) -> AsyncIterator[Pool]:
    async with open_pool(db_url, max_size=4) as pool:
        yield pool


@pytest.fixture(name="repo")
def _repo(pool: Pool) -> PostgresStatRepository:
    return PostgresStatRepository(pool)


@pytest.fixture(name="db")
def _db(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain autocommit connection to look at the test database's state."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(name="prefect_api_url", scope="session")
def _prefect_api_url() -> Iterator[str]:
    """API URL (``.../api``) of a real Prefect server on the embedded PostgreSQL, per session."""
    try:
        with local_prefect_server(private_home("prefect-home")) as server:
            yield server.api_url
    except TgstatError as e:
        pytest.exit(f"integration tests need a Prefect server: {e}", returncode=3)
