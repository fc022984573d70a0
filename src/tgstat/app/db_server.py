"""Reaching the collected data with other tools: ``tgstat db url``, ``shell`` and ``serve``.

``serve`` keeps the embedded PostgreSQL up and admits, over TCP, one read-only role
``tgstat`` with a password: generated once into ``TGSTAT_HOME/db-password`` (mode 0600; put
your own there to choose it). PostgreSQL checks it (scram-sha-256, configured for that role
in the server's pg_hba.conf); the password itself never reaches a command line, a log or
the server: the role stores the SCRAM verifier computed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg import conninfo, sql

from tgstat.app.database import connect
from tgstat.app.pg_proxy import Gate, PostgresProxy
from tgstat.app.supervisor import STOP_SIGNALS
from tgstat.domain.errors import TgstatError

READER = "tgstat"
PASSWORD_FILE = "db-password"  # noqa: S105 - a file name
HBA_MARK = "# tgstat db serve:"
HBA_LINES = (
    f"{HBA_MARK} the role {READER} logs in with its password, also through the socket\n"
    f"local   all   {READER}   scram-sha-256\n"
)


class DbServeError(TgstatError):
    """Raised when the database cannot be shared (settings, pg_hba.conf, psql missing)."""


def load_or_create_password(home: Path) -> str:
    """The password in ``home/db-password``, generated (mode 0600) on first use."""
    path = home / PASSWORD_FILE
    home.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_urlsafe(24).encode() + b"\n")
        finally:
            os.close(fd)
    password = path.read_text().strip()
    if not password:
        raise DbServeError(f"the password file {path} is empty")
    return password


def grant_reader(admin_url: str, password: str) -> None:
    """Create (or update) the login role ``tgstat``: reads every table and view, writes none."""
    with connect(admin_url) as conn:
        conn.autocommit = True
        verifier = conn.pgconn.encrypt_password(
            password.encode(), READER.encode(), b"scram-sha-256"
        )
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(READER)))
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN NOSUPERUSER PASSWORD {}").format(
                sql.Identifier(READER), sql.Literal(verifier.decode())
            )
        )
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(READER)))


def require_password_login(admin_url: str) -> None:
    """Put the role's scram-sha-256 rule first in pg_hba.conf and reload the server."""
    with connect(admin_url) as conn:
        conn.autocommit = True
        row = conn.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(str(row[0]))
        try:
            text = hba.read_text()
            if HBA_MARK not in text:
                hba.write_text(HBA_LINES + text)  # in place: owner and mode stay the server's
        except OSError as e:
            raise DbServeError(f"cannot update {hba}: {e.strerror}") from e
        conn.execute("SELECT pg_reload_conf()")
        bad = conn.execute(
            "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
        ).fetchone()
        if bad is not None:
            raise DbServeError(f"{hba} line {bad[0]}: {bad[1]}")


def serve_socket(socket_path: Path, host: str, port: int, stop: Callable[[], bool]) -> None:
    """Admit user and database ``tgstat`` on ``host:port`` until ``stop()``."""
    proxy = PostgresProxy(socket_path, Gate(READER, READER))
    try:
        asyncio.run(proxy.serve(host, port, stop))
    except OSError as e:
        raise DbServeError(f"cannot listen on {host}:{port}: {e.strerror}") from e


def tcp_url(host: str, port: int) -> str:
    """The URL other tools use while ``db serve`` runs (password shown as ``***``)."""
    return f"postgresql://{READER}:***@{host}:{port}/{READER}"


def psql_executable(bundled: Path | None, which: Callable[[str], str | None] = shutil.which) -> str:
    """psql: the one shipped with the embedded server (its version), else the one on PATH."""
    if bundled is not None and bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    found = which("psql")
    if found is None:
        raise DbServeError(
            "psql not found: install the PostgreSQL client (Debian/Ubuntu: apt install"
            " postgresql-client; macOS: brew install libpq), or point any client at the URL"
            " of `tgstat db url` (`tgstat db serve` for TCP)"
        )
    return found


def bundled_psql() -> Path | None:
    """The psql of the pgserver wheel, if it has one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    return Path(POSTGRES_BIN_PATH) / "psql"


def psql_command(psql: str, url: str) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment for psql on ``url``: the password goes in PGPASSWORD,
    never on the command line."""
    params: dict[str, Any] = conninfo.conninfo_to_dict(url)
    password = params.pop("password", None)
    extra = {} if password is None else {"PGPASSWORD": str(password)}
    return [psql, conninfo.make_conninfo(**params)], extra


def run_foreground(argv: list[str], env: Mapping[str, str]) -> int:
    """Run an interactive program (psql) to its end: Ctrl-C is the program's (it cancels a
    query there), SIGTERM and SIGHUP are passed on to it."""
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum != signal.SIGINT:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        children.append(subprocess.Popen(argv, env=dict(env)))  # noqa: S603 - no password
        return children[0].wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
