"""Shared by the benchmarks: a database to measure against, and how they stop."""

from __future__ import annotations

import argparse
import contextlib
import math
import resource
import signal
import sys
import tempfile
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql

from tgstat.app.database import connect, embedded_server, socket_url
from tgstat.app.migrate import MigrationError
from tgstat.app.redaction import error_line, redact
from tgstat.ports.repository import DatabaseUnavailableError

SCRATCH_PREFIX = "tgstat_bench_"
DATABASE_URL_HELP = (
    "a PostgreSQL server to measure on: a fresh database tgstat_bench_<hex> is created on it"
    " (CREATE DATABASE), migrated, used and dropped at the end (on an error, Ctrl-C or"
    " SIGTERM too); the URL's own database is never written to. TGSTAT_DATABASE_URL is not"
    " read. Default: a throwaway embedded PostgreSQL in a temporary directory"
)


class BenchDatabaseError(Exception):
    """The scratch database cannot be made on the given server (message without password)."""


DATABASE_ERRORS = (
    DatabaseUnavailableError,
    BenchDatabaseError,
    MigrationError,
    psycopg.OperationalError,
)
"""What a main turns into one ``prog: error: ...`` line (exit 2)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` after each option's help, except where there is no default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.help is None:
            return action.help
        return super()._get_help_string(action)


_stopping = False
"""A stop signal was turned into SystemExit: the process is unwinding."""
_deferring = 0
_pending: int | None = None
"""A stop signal that came while starting or stopping the embedded server."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    global _stopping, _pending
    if _stopping:  # already unwinding: let the cleanup finish
        return
    if _deferring:
        _pending = signum
        return
    _stopping = True
    raise SystemExit(128 + signum)


def exit_on_stop_signals() -> None:
    """SIGTERM and SIGHUP raise SystemExit(128 + signal) in the main thread, as Ctrl-C raises
    KeyboardInterrupt, so every ``with`` block unwinds: the embedded PostgreSQL stops, its
    temporary directory and any scratch database go. Later ones are ignored while unwinding."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """A stop signal waits for the end of the block: an interrupted initdb or ``pg_ctl stop``
    (SIGKILLed by ``subprocess.run``) would leave a server or its files behind."""
    global _deferring, _stopping
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending is not None and not _stopping:
        _stopping = True
        raise SystemExit(128 + _pending)


@contextlib.contextmanager
def throwaway_server() -> Iterator[tuple[Path, Path]]:
    """An embedded PostgreSQL in a temporary directory for the block: (its socket directory,
    the temporary TGSTAT_HOME). Stopped and deleted after, a stop signal during its start or
    stop being acted on once that is done."""
    stack = contextlib.ExitStack()
    try:
        with _signals_deferred():
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            sock = stack.enter_context(embedded_server(home))
        yield sock, home
    finally:
        with _signals_deferred():
            stack.close()


@contextlib.contextmanager
def database_errors(parser: argparse.ArgumentParser, url: str | None) -> Iterator[None]:
    """An unreachable server, a refused CREATE DATABASE or a failed migration: one error line
    (password masked) and exit 2, not a traceback."""
    try:
        yield
    except DATABASE_ERRORS as e:
        parser.exit(2, f"{parser.prog}: error: {error_line(e, url)}\n")


def _scratch_url(url: str, name: str) -> str:
    """``url`` on database ``name`` (its path, and any ``dbname`` query parameter, replaced)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise BenchDatabaseError(f"--database-url must be a postgresql:// URL, not {redact(url)!r}")
    # the query as written (no re-encoding), less any dbname parameter
    query = "&".join(
        part
        for part in parts.query.split("&")
        if urllib.parse.unquote(part.partition("=")[0]) != "dbname"
    )
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}", query=query))


def _admin(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the server of ``url``: on its database (only to issue
    CREATE/DROP DATABASE), or on ``postgres`` when that one does not exist."""
    try:
        conn = connect(url)
    except DatabaseUnavailableError as e:
        if "does not exist" not in str(e):
            raise
        conn = connect(url, dbname="postgres")
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh database ``tgstat_bench_<uuid hex>`` on the server of ``url`` for the block,
    dropped after it (on an error, Ctrl-C or SIGTERM too); the URL of the new database."""
    name = f"{SCRATCH_PREFIX}{uuid.uuid4().hex}"
    scratch = _scratch_url(url, name)
    created = False
    try:
        with _admin(url) as conn:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.Error as e:  # refused: nothing to drop
                raise BenchDatabaseError(
                    f"cannot create a scratch database on {redact(url)}: {error_line(e, url)}"
                ) from e
            except BaseException:  # interrupted: the server may have made it
                created = True
                raise
            created = True
        yield scratch
    finally:
        if created:
            _drop(url, name)


def _drop(url: str, name: str) -> None:
    try:
        with _admin(url) as conn:
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), sql.SQL(force))
            )
    except (DatabaseUnavailableError, psycopg.Error) as e:
        print(
            f"{Path(sys.argv[0]).name}: warning: could not drop the scratch database {name}"
            f" on {redact(url)} (drop it by hand): {error_line(e, url)}",
            file=sys.stderr,
            flush=True,
        )


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """A fresh, empty database for the block: a scratch database on the server of ``url``
    when given (see ``scratch_database``), else one on a throwaway embedded PostgreSQL."""
    with database_and_server(url) as (scratch, _):
        yield scratch


@contextlib.contextmanager
def database_and_server(url: str | None) -> Iterator[tuple[str, Path | None]]:
    """Like ``database``, with the data directory of the embedded server it started (None
    for a given ``url``: its server's processes are not ours to measure)."""
    if url:
        with scratch_database(url) as scratch:
            yield scratch, None
        return
    with throwaway_server() as (sock, home):
        yield socket_url(sock, f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:8]}"), home / "pg"


class ServerProcesses:
    """CPU and memory of a PostgreSQL server: the postmaster and its children, from /proc.

    CPU seconds include the children the postmaster has reaped (backends that exited), so
    deltas between two readings are the server's whole CPU in between.
    """

    def __init__(self, pgdata: Path) -> None:
        import psutil

        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        self._psutil = psutil
        self._postmaster = psutil.Process(pid)

    def _children(self) -> list[Any]:
        return [self._postmaster, *self._postmaster.children(recursive=True)]

    def cpu_s(self) -> float:
        t = self._postmaster.cpu_times()
        total = t.children_user + t.children_system
        for p in self._children():
            with contextlib.suppress(self._psutil.Error):
                c = p.cpu_times()
                total += c.user + c.system
        return total

    def memory_mb(self) -> tuple[float, float]:
        """(sum of RSS, sum of PSS): RSS counts shared buffers once per process, PSS splits
        them between the processes sharing them (the honest total)."""
        rss = pss = 0.0
        for p in self._children():
            with contextlib.suppress(self._psutil.Error):
                m = p.memory_full_info()
                rss += m.rss
                pss += getattr(m, "pss", m.rss)
        return rss / 2**20, pss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slope(x0: float, y0: float, x1: float, y1: float) -> float | None:
    """The log-log slope between two points: the growth exponent of y in x."""
    if min(x0, y0, x1, y1) <= 0 or x0 == x1:
        return None
    return math.log(y1 / y0) / math.log(x1 / x0)


def at_least(low: float, kind: type = int, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: a finite ``kind`` number >= ``low`` (and <= ``high`` when given),
    else a usage error line."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        top = float("inf") if high is None else high
        if not low <= value < float("inf") or value > top:  # NaN fails too
            if high is None:
                raise argparse.ArgumentTypeError(f"must be at least {low:g}: {text!r}")
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}: {text!r}")
        return value

    return parse
