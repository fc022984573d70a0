"""``tgstat lake ...``: webhook, poll, set-webhook, etl, query, serve-etl.

Each command imports what it needs when it runs, so ``tgstat --help`` stays light.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tgstat.app.settings import Settings
from tgstat.cli.errors import Command
from tgstat.cli.serve import port_number
from tgstat.ports.lake_query import NAMED_QUERIES


def register(sub: Any) -> None:
    """Add ``lake`` and its subcommands to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser("lake", help="the group message lake: webhook, poll, ETL, SQL")
    lake_sub = p.add_subparsers(dest="lake_command", required=True, metavar="COMMAND")
    for name, text, add_arguments, run in (
        (
            "webhook",
            "serve the Bot API webhook into the raw lake",
            add_webhook_arguments,
            webhook_run,
        ),
        ("poll", "long-poll getUpdates into the raw lake", add_poll_arguments, poll_run),
        (
            "set-webhook",
            "point the bot's webhook at URL",
            add_set_webhook_arguments,
            set_webhook_run,
        ),
        ("etl", "flatten one day of raw updates into Parquet", add_etl_arguments, etl_run),
        ("query", "SQL (DuckDB) over the enriched Parquet", add_query_arguments, query_run),
        ("serve-etl", "serve the lake-etl flow on its daily cron", _no_arguments, serve_etl_run),
    ):
        q = lake_sub.add_parser(name, help=text)
        add_arguments(q)
        q.set_defaults(run=_os_errors_as_lake_errors(run))


def _os_errors_as_lake_errors(run: Command) -> Command:
    """``run`` with any OSError that escaped the lake's own error handling (a full disk, a
    denied permission, a taken port), or an object store's error (no credentials, endpoint
    unreachable, access denied), raised as LakeError: one line and exit 2."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace, settings: Settings) -> int:
        from tgstat.adapters.fsspec_lake import describe, store_errors
        from tgstat.ports.lake import LakeError

        try:
            return run(args, settings)
        except BrokenPipeError:
            raise  # the reader went away: run_command stops quietly
        except store_errors() as e:
            command = getattr(args, "lake_command", "")
            raise LakeError(f"lake {command}: {settings.lake_root}: {describe(e)}") from e

    return guarded


def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    pass


def add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=8080, help="port to listen on")


def webhook_run(args: argparse.Namespace, settings: Settings) -> int:
    import zoneinfo

    from tgstat.adapters.starlette_webhook import create_app
    from tgstat.adapters.uvicorn_server import ServerLimits, serve
    from tgstat.app.lake import lake_store, secret_token
    from tgstat.app.supervisor import check_port_free

    check_port_free(args.host, args.port, "another webhook?")  # one line, not uvicorn's six
    token = secret_token(settings)
    app = create_app(
        lake_store(settings),
        secret_token=token,
        zone=zoneinfo.ZoneInfo(settings.lake_tz),
        chat_ids=settings.bot_chat_ids,
        body_timeout_s=settings.webhook_body_timeout_s,
    )
    limits = ServerLimits(
        max_connections=settings.webhook_max_connections,
        header_timeout_s=settings.webhook_header_timeout_s,
    )
    serve(app, args.host, args.port, limits)
    return 0


def add_poll_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=int, default=30, help="long-poll timeout in seconds (default 30)"
    )


def poll_run(args: argparse.Namespace, settings: Settings) -> int:
    import json
    import zoneinfo

    from tgstat.app.lake import bot_api, bot_token, lake_store
    from tgstat.services.lake_ingest import ChatGate, IngestStats, poll

    token = bot_token(settings)
    store = lake_store(settings)
    gate = ChatGate.open(store, settings.bot_chat_ids)
    stats = IngestStats(since=datetime.now(UTC))
    offset_file = settings.home / "lake-poll.offset"
    print(f"polling the Bot API into {settings.lake_root}; Ctrl-C stops", flush=True)

    async def main() -> None:
        async with bot_api(token) as api:
            await poll(
                store,
                api,
                offset_file=offset_file,
                zone=zoneinfo.ZoneInfo(settings.lake_tz),
                gate=gate,
                stats=stats,
                timeout_s=args.timeout,
            )

    try:
        asyncio.run(main())
    finally:  # the counts, dropped updates included, however the poll ends
        print(f"lake poll: {json.dumps(stats.to_json())}", flush=True)
    return 0


def add_set_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the webhook's public HTTPS URL (.../telegram/webhook)")


def set_webhook_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.lake import bot_api, bot_token, secret_token
    from tgstat.services.lake_ingest import ALLOWED_UPDATES

    token, secret = bot_token(settings), secret_token(settings)

    async def main() -> None:
        async with bot_api(token) as api:
            await api.set_webhook(args.url, secret, ALLOWED_UPDATES)

    asyncio.run(main())
    print(f"webhook set to {args.url} for {', '.join(ALLOWED_UPDATES)}")
    return 0


def serve_etl_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.flows import lake_etl_flow  # imports prefect: only when serving

    lake_etl_flow.serve(settings)
    return 0


def add_etl_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="day to process (default: yesterday, TGSTAT_LAKE_TZ)"
    )


def etl_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.lake import describe, etl_day, lake_store
    from tgstat.services.lake_etl import run_etl

    day = etl_day(args.date, settings, datetime.now(UTC))
    print(describe(run_etl(lake_store(settings), day)))
    return 0


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "sql", nargs="?", help="SQL over `telegram`, `telegram_event` and the view `messages`"
    )
    what.add_argument("--named", choices=sorted(NAMED_QUERIES), help="a reference query")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def query_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.lake import lake_query

    sql = NAMED_QUERIES[args.named] if args.named else args.sql
    columns, rows = lake_query(settings).query(sql)
    if args.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        out.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        print(table(columns, rows))
    return 0


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table: numbers right-aligned, NULL for None, floats to 2 places."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(_numeric(r[i]) for r in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    count = f"({len(rows)} row{'' if len(rows) == 1 else 's'})"
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells), count])


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
