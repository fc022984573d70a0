"""``tgstat db url``, ``tgstat db shell`` and ``tgstat db serve``: the database, for people
and their tools (psql, Metabase, Grafana, notebooks)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tgstat.app.settings import Settings
from tgstat.cli.serve import port_number

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432


def register(sub: Any) -> None:
    """Add the ``db`` group to the ``tgstat`` subparsers ``sub``."""
    group = sub.add_parser("db", help="reach the database: its URL, psql, or a TCP port")
    db = group.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    p = db.add_parser("url", help="print the database URL tgstat uses (password masked)")
    p.set_defaults(run=url_run)
    p = db.add_parser("shell", help="psql on tgstat's database")
    p.set_defaults(run=shell_run)
    p = db.add_parser(
        "serve",
        help="keep the embedded PostgreSQL up on a TCP port, for psql, Metabase, Grafana",
        description="Keep the embedded PostgreSQL up and admit the read-only user tgstat,"
        " with the password in TGSTAT_HOME/db-password, on --host:--port until SIGTERM,"
        " SIGINT or SIGHUP.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    p.set_defaults(run=serve_run)


def url_run(_args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url, redact
    from tgstat.app.db_server import tcp_url

    with database_url(settings) as url:
        print(redact(url))
    if settings.database_url is None:
        print(
            "tgstat: the embedded server runs only while a tgstat command does; for other"
            f" tools run `tgstat db serve` and use {tcp_url(DEFAULT_HOST, DEFAULT_PORT)}"
            f" (password in {settings.home / 'db-password'})",
            file=sys.stderr,
        )
    return 0


def shell_run(_args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url
    from tgstat.app.db_server import bundled_psql, psql_command, psql_executable, run_foreground

    psql = psql_executable(bundled_psql())
    with database_url(settings) as url:
        argv, extra = psql_command(psql, url)
        return run_foreground(argv, {**os.environ, **extra})


def serve_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url, socket_path
    from tgstat.app.db_server import (
        DbServeError,
        grant_reader,
        load_or_create_password,
        require_password_login,
        serve_socket,
        tcp_url,
    )
    from tgstat.app.migrate import migrate
    from tgstat.app.supervisor import Stopped, StopSignals, check_port_free

    if settings.database_url is not None:
        raise DbServeError(
            "TGSTAT_DATABASE_URL is set: tgstat uses that server, connect your tools to it"
            " directly; `tgstat db serve` shares the embedded one"
        )
    check_port_free(args.host, args.port, "another PostgreSQL?")
    password_file = settings.home / "db-password"
    with StopSignals().installed() as stop, database_url(settings) as url:
        try:
            migrate(url)
            grant_reader(url, load_or_create_password(settings.home))
            require_password_login(url)
            stop.check()
            print(
                f"tgstat db serve: PostgreSQL on {args.host}:{args.port}, database tgstat, user"
                f" tgstat (read-only), password in {password_file}:"
                f" {tcp_url(args.host, args.port)}; SIGTERM or Ctrl-C stops",
                flush=True,
            )
            serve_socket(socket_path(url), args.host, args.port, lambda: stop.received is not None)
            stop.check()
        except Stopped:
            pass
    print("tgstat db serve: stopped", flush=True)
    return 0
