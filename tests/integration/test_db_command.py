"""``tgstat db url``, ``db shell`` and ``db serve``: the data within reach of other tools."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.processes import command_line, descendants, postmaster_pid
from tgstat.app.db_server import DbServeError, psql_command, psql_executable
from tgstat.app.prefect_server import free_port


@pytest.fixture(name="db_serve", scope="class")
def _db_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """``tgstat db serve --port P`` running on a fresh TGSTAT_HOME: (home, port)."""
    home = tmp_path_factory.mktemp("db-serve-home")
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.cli", "db", "serve", "--port", str(port)],
            env=clean_env(TGSTAT_HOME=str(home)),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "SIGTERM or Ctrl-C stops" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield home, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=15) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "tgstat db serve: stopped" in log.read_text()
    assert postmaster_pid(home) is None  # the embedded server stopped with it


def tcp(port: int, **kwargs: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host="127.0.0.1", port=port, connect_timeout=5, **{"dbname": "tgstat", **kwargs}
    )


@pytest.fixture(name="no_pgpass", autouse=True)
def _no_pgpass(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq must not find a password anywhere else (a ~/.pgpass, PGPASSWORD)."""
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    monkeypatch.delenv("PGPASSWORD", raising=False)


class TestDbServe:
    """Over TCP with the password: yes, and read-only; without it, or as another user: no."""

    def test_password_file_is_private(self, db_serve: tuple[Path, int]) -> None:
        home, _ = db_serve
        assert (home / "db-password").stat().st_mode & 0o777 == 0o600
        password = (home / "db-password").read_text().strip()
        assert len(password) >= 24
        assert password not in (home / "serve.log").read_text()

    def test_with_the_password(self, db_serve: tuple[Path, int]) -> None:
        home, port = db_serve
        password = (home / "db-password").read_text().strip()
        with tcp(port, user="tgstat", password=password) as conn:
            assert conn.execute("SELECT count(*) FROM stat_post").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM metric_post").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM stat_post")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"user": "tgstat"}, "no password supplied"),
            ({"user": "tgstat", "password": "wrong"}, "password authentication failed"),
            ({"user": "postgres"}, 'admits only user "tgstat", not "postgres"'),
            ({"user": "tgstat", "dbname": "prefect"}, 'admits only database "tgstat"'),
        ],
        ids=["no-password", "wrong-password", "superuser", "other-database"],
    )
    def test_refused(
        self, db_serve: tuple[Path, int], kwargs: dict[str, str], message: str
    ) -> None:
        _, port = db_serve
        with pytest.raises(psycopg.OperationalError, match=message):
            tcp(port, **kwargs).close()

    def test_the_password_is_in_no_command_line(self, db_serve: tuple[Path, int]) -> None:
        home, _ = db_serve
        password = (home / "db-password").read_text().strip()
        everything = " ".join(command_line(p) for p in descendants(1))
        assert "db serve" in everything
        assert password not in everything

    def test_a_taken_port_is_one_line(self, tmp_path: Path) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            done = run_tgstat(
                "db", "serve", "--port", str(port), env=clean_env(TGSTAT_HOME=str(tmp_path))
            )
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"tgstat: error: port {port} on 127.0.0.1 is already in use (another PostgreSQL?):"
            " choose another with --port"
        ]
        assert not (tmp_path / "pg").exists()

    def test_with_a_configured_server_it_says_to_use_that(self, db_url: str) -> None:
        done = run_tgstat("db", "serve", env=clean_env(TGSTAT_DATABASE_URL=db_url))
        assert done.returncode == 2
        assert "TGSTAT_DATABASE_URL is set" in done.stderr


AT_ONCE = """
import os, sys, pathlib
import pgserver.postgres_server, tgstat.app.database
from tgstat.cli import main
go = pathlib.Path(sys.argv[1])
(go.parent / f"ready-{os.getpid()}").touch()
while not go.exists():
    pass
sys.exit(main(sys.argv[2:]))
"""
"""``tgstat ARGS`` with everything imported first, started when the file GO appears."""


class TestDbUrl:
    """The URL tgstat uses, never with its password."""

    def test_configured_url_is_masked(self) -> None:
        url = "postgresql://tg:s3cr3t-pw@db.example.org:5432/stats"
        done = run_tgstat("db", "url", env=clean_env(TGSTAT_DATABASE_URL=url))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "postgresql://tg:***@db.example.org:5432/stats"
        assert "s3cr3t-pw" not in done.stdout + done.stderr

    def test_embedded_url_and_how_to_reach_it(self, tmp_path: Path) -> None:
        done = run_tgstat("db", "url", env=clean_env(TGSTAT_HOME=str(tmp_path)))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith("postgresql://postgres@/tgstat?host=")
        assert "tgstat db serve" in done.stderr
        assert postmaster_pid(tmp_path) is None  # started for the answer, stopped after

    def test_first_start_at_the_same_instant(self, tmp_path: Path) -> None:
        """Commands started together on a fresh TGSTAT_HOME share one server; none fails."""
        home, go = tmp_path / "fresh", tmp_path / "go"  # home not there yet
        commands = [["db", "url"], ["migrate"]] * 3
        procs = [
            subprocess.Popen(
                [sys.executable, "-W", "ignore", "-c", AT_ONCE, str(go), *args],
                env=clean_env(TGSTAT_HOME=str(home)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in commands
        ]
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("ready-*"))) < len(procs):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        go.touch()  # every command starts within a millisecond or so of the others
        results = [(p.communicate(timeout=120), p.returncode) for p in procs]
        for (out, err), code in results:
            assert code == 0, err
            assert "Traceback" not in out + err
        assert postmaster_pid(home) is None  # the last one out stopped it


class TestDbShell:
    """psql on the database; the password travels in the environment, not argv."""

    def test_runs_psql(self, db_url: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tgstat.cli", "db", "shell"],
            input="SELECT 40 + 2 AS answer;\n",
            capture_output=True,
            text=True,
            env=clean_env(TGSTAT_DATABASE_URL=db_url),
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "42" in done.stdout

    def test_password_goes_to_the_environment(self) -> None:
        argv, env = psql_command("psql", "postgresql://tg:s3cr3t@db.example.org:5433/stats")
        assert env == {"PGPASSWORD": "s3cr3t"}
        assert "s3cr3t" not in " ".join(argv)
        assert "host=db.example.org" in argv[1]
        assert "port=5433" in argv[1]

    def test_without_psql_it_says_how_to_get_it(self, tmp_path: Path) -> None:
        with pytest.raises(DbServeError, match="apt install postgresql-client"):
            psql_executable(tmp_path / "no-psql", which=lambda _: None)

    def test_prefers_the_psql_of_the_embedded_server(self, tmp_path: Path) -> None:
        bundled = tmp_path / "psql"
        bundled.write_text("#!/bin/sh\n")
        bundled.chmod(0o755)
        assert psql_executable(bundled, which=lambda _: "/usr/bin/psql") == str(bundled)
        with contextlib.suppress(FileNotFoundError):
            bundled.unlink()
        assert psql_executable(bundled, which=lambda _: "/usr/bin/psql") == "/usr/bin/psql"
