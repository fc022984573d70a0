"""``tgstat lake webhook`` refuses a bad or taken port in one line, before serving."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.integration.cli import clean_env, run_tgstat


def one_line_error(args: list[str], home: Path) -> str:
    env = clean_env(TGSTAT_HOME=str(home), TGSTAT_BOT_SECRET_TOKEN="s3cret-token")
    done = run_tgstat("lake", "webhook", *args, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    return done.stderr.strip()


def test_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(["--port", str(port)], tmp_path)
    assert line == (
        f"tgstat: error: port {port} on 127.0.0.1 is already in use (another webhook?):"
        " choose another with --port"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "a port is 1 to 65535, not 99999"),
        (["--port", "http"], "invalid int value: 'http'"),
        (["--host", "nosuchhost.invalid"], "--host 'nosuchhost.invalid' is not an address"),
    ],
)
def test_a_bad_address(args: list[str], message: str, tmp_path: Path) -> None:
    assert message in one_line_error(args, tmp_path)
