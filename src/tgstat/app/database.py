"""Where the database is: a configured URL, or the embedded PostgreSQL under TGSTAT_HOME."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import subprocess
import threading
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql
from psycopg_pool import AsyncConnectionPool

from tgstat.adapters.postgres import Pool
from tgstat.app.redaction import error_line
from tgstat.app.redaction import redact as redact  # the one masking helper, re-exported
from tgstat.app.settings import Settings, ensure_home
from tgstat.domain.errors import TgstatError
from tgstat.ports.repository import DatabaseUnavailableError

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "tgstat"
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 30.0
"""How long a session waits for a pool connection before ``database pool timeout``."""


class EmbeddedServerError(TgstatError):
    """Raised when the embedded PostgreSQL cannot be started."""


def socket_url(socket_dir: Path, database: str) -> str:
    """libpq/dbmate URL of a server listening only on a unix socket in ``socket_dir``."""
    host = urllib.parse.quote(str(socket_dir), safe="/")
    return f"postgresql://postgres@/{database}?host={host}&sslmode=disable"


def socket_path(url: str) -> Path:
    """The unix socket file of a ``socket_url`` (``<dir>/.s.PGSQL.<port>``)."""
    params = conninfo.conninfo_to_dict(url)
    return Path(str(params["host"])) / f".s.PGSQL.{params.get('port') or 5432}"


def _prune_dead_holders(pgdata: Path) -> None:
    """Forget handles of processes that died without cleanup (e.g. SIGKILL).

    pgserver stops the server when its last live handle exits; a dead pid left in its list
    would keep the server running forever.
    """
    pids_file = pgdata / ".handle_pids.json"
    if not pids_file.exists():
        return
    try:
        pids = json.loads(pids_file.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _is_alive(pid)]
    if alive != pids:
        pids_file.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_holds: dict[Path, int] = {}
"""How many ``embedded_server`` blocks of this process hold each data directory."""
_holds_lock = threading.Lock()


@contextmanager
def embedded_server(home: Path) -> Iterator[Path]:
    """Start (or join) the embedded PostgreSQL in ``home/pg``; yield its socket directory.

    Concurrent callers, in this process or others, share one server: pgserver serialises
    start-up with an inter-process lock. When the outermost block of this process ends, the
    process leaves the server at once (not at interpreter exit), and the last process to
    leave stops it; holders that died without leaving (SIGKILL) are forgotten first.
    """
    ensure_home(home)
    pgdata = (home / "pg").resolve()
    try:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset (as on servers and in CI);
            # pgserver then keeps its lock file under /tmp, which is what we want.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import PostgresServer, get_server  # heavy: only here

            with PostgresServer._lock:
                _prune_dead_holders(pgdata)
                # get_server makes a missing pgdata with exist_ok=False outside its lock, so
                # two first starts at once raced on it; the data is initialised (initdb) only
                # when PG_VERSION is missing, under the lock, so an empty directory is fine.
                pgdata.mkdir(exist_ok=True)
            with _holds_lock:
                server = get_server(pgdata, cleanup_mode="stop")
                _holds[pgdata] = _holds.get(pgdata, 0) + 1
    except Exception as e:
        raise EmbeddedServerError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {type(e).__name__}: {e}"
            f" (see {pgdata / 'log'})"
        ) from e
    try:
        uri = urllib.parse.urlsplit(server.get_uri())
        yield Path(urllib.parse.parse_qs(uri.query)["host"][0])
    finally:
        with _holds_lock:
            _holds[pgdata] -= 1
            if _holds[pgdata] == 0:
                del _holds[pgdata]
                _leave(server, pgdata)


def _leave(server: Any, pgdata: Path) -> None:
    """Take this process off the server's holders now; the last holder stops the server."""
    from pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        _prune_dead_holders(pgdata)
    pgserver_log = logging.getLogger("pgserver")
    # A server that died under us (crash, fast shutdown) makes pgserver's `pg_ctl stop` fail
    # and log a dozen lines before it kills what is left: noise after the command's error.
    pgserver_log.disabled = True
    try:
        server._cleanup()  # pg_ctl stop when no other live process holds the server
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        log.warning("could not stop the embedded PostgreSQL in %s: %s", pgdata, e)
    finally:
        pgserver_log.disabled = False
        # the next block starts afresh (pgserver would hand back this instance, no longer
        # registered as a holder), and nothing is left to clean up at exit
        atexit.unregister(server._cleanup)
        PostgresServer._instances.pop(pgdata, None)


def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server of ``admin_url`` when it does not exist."""
    with connect(admin_url) as conn:
        conn.autocommit = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            # a concurrent command may create it in the meantime
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _unavailable(url: str, e: Exception) -> DatabaseUnavailableError:
    # libpq's message spans lines ("...: Connection refused\n\tIs the server running...")
    # and may echo parts of the URL, its password too.
    reason = error_line(e, url)
    return DatabaseUnavailableError(f"cannot connect to PostgreSQL at {redact(url)}: {reason}")


# A malformed URL is a ProgrammingError; an unreachable server an OperationalError.
_CONNECT_ERRORS = (psycopg.OperationalError, psycopg.ProgrammingError)


def connect(url: str, **params: str) -> psycopg.Connection[Any]:
    """A synchronous connection (``params`` override the URL's), or DatabaseUnavailableError
    naming the URL (no password)."""
    try:
        target = conninfo.make_conninfo(url, **params) if params else url
        return psycopg.connect(target, connect_timeout=CONNECT_TIMEOUT_S)
    except _CONNECT_ERRORS as e:
        raise _unavailable(url, e) from e


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The URL of tgstat's database, starting the embedded server for the block if needed."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded_server(settings.home) as socket_dir:
        ensure_database(socket_url(socket_dir, "postgres"), EMBEDDED_DATABASE)
        yield socket_url(socket_dir, EMBEDDED_DATABASE)


@asynccontextmanager
async def open_pool(
    url: str, max_size: int, timeout_s: float = POOL_TIMEOUT_S
) -> AsyncIterator[Pool]:
    """An open autocommit pool on ``url``; fails fast and clearly when it is unreachable.

    Raises DatabaseUnavailableError (password masked) when the server cannot be reached or
    the URL is malformed. A connection wanted later waits at most ``timeout_s`` seconds
    (then the repository raises ``database pool timeout after N s``).
    """
    try:
        probe = await psycopg.AsyncConnection.connect(url, connect_timeout=CONNECT_TIMEOUT_S)
    except _CONNECT_ERRORS as e:
        raise _unavailable(url, e) from e
    await probe.close()
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=timeout_s,
        kwargs={"autocommit": True},
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    async with pool:
        yield pool
