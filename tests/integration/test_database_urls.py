"""Database URLs as users write them: every spelling masked in what the CLI prints, and a
malformed one refused in one line, all by real ``tgstat`` processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import conninfo

from tests.integration.cli import clean_env, run_tgstat
from tgstat.app.prefect_server import free_port

SECRET = "s3cr3t-Pw"


def spellings(port: int) -> list[str]:
    """One URL per way libpq takes a password, all of a server that is not there."""
    return [
        f"postgresql://tg:{SECRET}@127.0.0.1:{port}/stats",
        f"postgres://tg@127.0.0.1:{port}/stats?sslmode=disable&password={SECRET}",
        f"postgresql://tg@127.0.0.1:{port}/stats?password={SECRET}&sslmode=disable",
        f"host=127.0.0.1 port={port} dbname=stats user=tg password={SECRET}",
        f"host=127.0.0.1 port={port} dbname=stats user=tg password='{SECRET} with \\' spaces'",
    ]


SPELLING_IDS = ["uri", "postgres-query-last", "query-first", "key-value", "key-value-quoted"]


@pytest.fixture(name="closed_port", scope="module")
def _closed_port() -> int:
    return free_port()  # bound and closed again: connections are refused


def env_of(url: str, home: Path) -> dict[str, str]:
    return clean_env(TGSTAT_DATABASE_URL=url, TGSTAT_HOME=str(home))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert "spaces" not in text


class TestMasked:
    """Whatever the spelling, no command prints the password."""

    @pytest.mark.parametrize("index", range(5), ids=SPELLING_IDS)
    @pytest.mark.parametrize("command", [["report"], ["migrate"], ["collect"]])
    def test_unreachable_is_one_line(
        self, closed_port: int, index: int, command: list[str], tmp_path: Path
    ) -> None:
        url = spellings(closed_port)[index]
        done = run_tgstat(*command, env=env_of(url, tmp_path))
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith("tgstat: error: cannot connect to PostgreSQL at ")
        assert "password=***" in done.stderr or "tg:***@" in done.stderr
        assert_no_secret(done.stdout, done.stderr)

    @pytest.mark.parametrize("index", range(5), ids=SPELLING_IDS)
    def test_db_url(self, closed_port: int, index: int, tmp_path: Path) -> None:
        done = run_tgstat("db", "url", env=env_of(spellings(closed_port)[index], tmp_path))
        assert done.returncode == 0, done.stderr
        assert "***" in done.stdout
        assert_no_secret(done.stdout, done.stderr)

    @pytest.mark.parametrize("index", range(5), ids=SPELLING_IDS)
    def test_doctor(self, closed_port: int, index: int, tmp_path: Path) -> None:
        url = spellings(closed_port)[index]
        done = run_tgstat("doctor", env=env_of(url, tmp_path))
        assert done.returncode == 1, done.stdout + done.stderr
        assert "cannot connect to PostgreSQL" in done.stdout
        assert_no_secret(done.stdout, done.stderr)


class TestKeyValue:
    """A key=value TGSTAT_DATABASE_URL works like a URL, dbmate's migrations included."""

    def test_migrate(self, empty_db_url: str, tmp_path: Path) -> None:
        dsn = conninfo.make_conninfo(**conninfo.conninfo_to_dict(empty_db_url))
        assert "://" not in dsn
        done = run_tgstat("migrate", "--summary", env=env_of(dsn, tmp_path))
        assert done.returncode == 0, done.stderr
        assert "stat_post " in done.stdout


class TestMalformed:
    """A TGSTAT_DATABASE_URL libpq cannot read is one line and exit 2, before any work."""

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("notaurl", "is not a PostgreSQL URL"),
            ("postgresql://", "names no server and no database"),
            (f"postgresql://u:{SECRET}@host:notaport/db", "has a port that is not a number"),
            (f"http://u:{SECRET}@x", "must be a postgresql:// URL, not http://"),
            (f"host=h password={SECRET} spaces", 'missing "=" after "***"'),
        ],
    )
    @pytest.mark.parametrize("command", [["report"], ["replay", "no-such-file.json"]])
    def test_one_line(self, url: str, problem: str, command: list[str], tmp_path: Path) -> None:
        done = run_tgstat(*command, env=env_of(url, tmp_path))
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
        assert done.stderr.startswith("tgstat: error: TGSTAT_DATABASE_URL ")
        assert problem in done.stderr
        assert_no_secret(done.stdout, done.stderr)

    def test_empty_means_the_embedded_server(self, tmp_path: Path) -> None:
        done = run_tgstat("db", "url", env=env_of("", tmp_path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("postgresql://postgres@/tgstat?host=")
