"""The CLI's error policy in a real process: one masked line, exit 2, masked log lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMAND = """
import argparse, logging, sys
import psycopg
from tgstat.cli.errors import run_command

def run(args, settings):
    logging.getLogger("tgstat.somewhere").warning("tried %s", "host=h password=s3cr3t")
    raise {error}

sys.exit(run_command(run, argparse.Namespace(verbose=False)))
"""


def run_policy(error: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    return subprocess.run(
        [sys.executable, "-c", COMMAND.format(error=error)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


class TestRunCommand:
    """What escapes a command becomes one line; no password is printed or logged."""

    @pytest.mark.parametrize(
        ("error", "line"),
        [
            (
                "psycopg.OperationalError('consuming input failed: server closed the"
                " connection unexpectedly\\n\\tThis probably means the server terminated')",
                "tgstat: error: database connection lost: consuming input failed: server"
                " closed the connection unexpectedly",
            ),
            (
                "psycopg.InterfaceError('the connection is closed')",
                "tgstat: error: database error: the connection is closed",
            ),
            (
                "__import__('tgstat.domain.errors').domain.errors.TgstatError("
                "'cannot use postgresql://u:s3cr3t@h/db')",
                "tgstat: error: cannot use postgresql://u:***@h/db",
            ),
            (
                "__import__('tgstat.domain.errors').domain.errors.TgstatError("
                "'bad DSN host=h\\n  password=s3cr3t\\n')",
                "tgstat: error: bad DSN host=h password=***",
            ),
        ],
        ids=["lost", "interface", "tgstat-error", "multi-line"],
    )
    def test_one_masked_line(self, error: str, line: str) -> None:
        done = run_policy(error)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            "WARNING tgstat.somewhere: tried host=h password=***",
            line,
        ]
        assert "s3cr3t" not in done.stderr

    def test_a_programming_error_keeps_its_traceback(self) -> None:
        done = run_policy("psycopg.ProgrammingError('a bug')")
        assert done.returncode == 1
        assert "Traceback" in done.stderr
