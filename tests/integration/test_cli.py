"""The ``tgstat`` command as a user runs it: real processes, real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.integration.cli import clean_env, run_module, run_tgstat
from tgstat.app.database import EMBEDDED_DATABASE
from tgstat.app.migrate import migrations_dir


class TestMigrateCommand:
    """``tgstat migrate`` applies the schema to the configured database."""

    def test_against_a_url(self, empty_db_url: str) -> None:
        done = run_tgstat("migrate", "--summary", env=clean_env(TGSTAT_DATABASE_URL=empty_db_url))
        assert done.returncode == 0, done.stderr
        assert "stat_post" in done.stdout
        assert "config__tg_channel" in done.stdout
        with psycopg.connect(empty_db_url) as conn:
            applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert applied == (len(list(migrations_dir().glob("*.sql"))),)

    def test_database_down_is_one_line_without_password(self) -> None:
        url = "postgresql://tg:s3cr3t-pw@127.0.0.1:1/tgstat"
        done = run_tgstat("migrate", env=clean_env(TGSTAT_DATABASE_URL=url))
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("tgstat: error: cannot connect to PostgreSQL at")
        assert "127.0.0.1:1" in lines[0]
        assert "s3cr3t-pw" not in done.stderr + done.stdout
        assert "Traceback" not in done.stderr

    def test_bad_setting_is_one_line(self, empty_db_url: str) -> None:
        done = run_tgstat(
            "migrate", env=clean_env(TGSTAT_DATABASE_URL=empty_db_url, TGSTAT_DB_POOL_SIZE="lots")
        )
        assert done.returncode == 2
        assert done.stderr.strip() == (
            "tgstat: error: TGSTAT_DB_POOL_SIZE must be a positive integer, got 'lots'"
        )


class TestEmbeddedDefault:
    """Without TGSTAT_DATABASE_URL, tgstat runs its own PostgreSQL in TGSTAT_HOME."""

    def test_two_commands_starting_it_at_once(self, tmp_path: Path) -> None:
        env = clean_env(TGSTAT_HOME=str(tmp_path))
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tgstat.cli", "migrate", "--summary"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=180) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
            assert "stat_user" in out
        # reused afterwards: the data is still there, in the same directory
        again = run_tgstat("migrate", env=env)
        assert again.returncode == 0, again.stderr
        assert (tmp_path / "pg" / "PG_VERSION").exists()
        # the last command to exit stopped the server: nothing is left running
        assert not (tmp_path / "pg" / "postmaster.pid").exists()

    def test_database_name(self) -> None:
        assert EMBEDDED_DATABASE == "tgstat"


@pytest.mark.parametrize("argv", [["--help"], ["migrate", "--help"]])
def test_help(argv: list[str]) -> None:
    done = run_tgstat(*argv, env=clean_env())
    assert done.returncode == 0
    assert "usage: tgstat" in done.stdout


class TestReplayCommandErrors:
    """Bad scenario input: one clear line, exit 2, nothing written."""

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (None, "cannot read scenario"),
            ("{not json", "is not valid JSON"),
            (
                '{"channel": {"id": 5}, "start": "2026-11-01T00:00:00", "end": "x"}',
                "time without a zone",
            ),
            ('{"channel": {"id": 5}}', "start: expected an ISO 8601 time"),
        ],
        ids=["missing-file", "bad-json", "naive-time", "missing-field"],
    )
    def test_bad_scenario(
        self, tmp_path: Path, db_url: str, content: str | None, message: str
    ) -> None:
        path = tmp_path / "scenario.json"
        if content is not None:
            path.write_text(content)
        done = run_tgstat("replay", str(path), env=clean_env(TGSTAT_DATABASE_URL=db_url))
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert message in done.stderr
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM config__tg_channel").fetchone() == (0,)

    def test_database_down(self) -> None:
        scenario = Path(__file__).resolve().parents[1] / "scenarios" / "worked-example.json"
        url = "postgresql://tg:pw@127.0.0.1:1/tgstat"
        done = run_tgstat("replay", str(scenario), env=clean_env(TGSTAT_DATABASE_URL=url))
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: cannot connect to PostgreSQL")
        assert "pw@" not in done.stderr


class TestUsageErrors:
    """Wrong arguments and unreachable servers are one line and exit 2 too; --help helps."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("serve", "--port", "abc"), "invalid int value: 'abc'"),
            (("lake", "query", "--named", "nope"), "invalid choice: 'nope'"),
            ((), "the following arguments are required: COMMAND"),
        ],
        ids=["bad-int", "bad-choice", "no-command"],
    )
    def test_bad_arguments(self, args: tuple[str, ...], message: str) -> None:
        done = run_tgstat(*args, env=clean_env())
        assert done.returncode == 2
        assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
        assert done.stderr.startswith("tgstat: error: ")
        assert message in done.stderr

    def test_help_imports_no_prefect(self) -> None:
        code = (
            "import sys; from tgstat.cli import build_parser; build_parser();"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'telethon')))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "[]"

    @pytest.mark.parametrize("args", [("serve",), ("db", "serve"), ("doctor",), ("deploy",)])
    def test_command_help(self, args: tuple[str, ...]) -> None:
        done = run_tgstat(*args, "--help", env=clean_env())
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: tgstat {' '.join(args)}")

    def test_serve_entry_point_helps(self) -> None:
        done = run_module("tgstat.flows.serve", "--help", env=clean_env())
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: python -m tgstat.flows.serve")

    def test_serve_with_an_unreachable_prefect_is_one_line(self) -> None:
        env = clean_env(PREFECT_API_URL="http://127.0.0.1:1/api")
        done = run_module("tgstat.flows.serve", env=env)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            "tgstat: error: cannot reach the Prefect server at"
            " PREFECT_API_URL=http://127.0.0.1:1/api: [Errno 111] Connection refused"
        ]


class TestCollectCommand:
    """``tgstat collect`` with nothing to collect says so instead of printing nothing."""

    def test_no_channel_configured(self, db_url: str) -> None:
        done = run_tgstat("collect", env=clean_env(TGSTAT_DATABASE_URL=db_url))
        assert done.returncode == 2
        assert done.stderr.splitlines() == [done.stderr.strip()]
        assert done.stderr.startswith("tgstat: error: no channel is configured: add one with")
