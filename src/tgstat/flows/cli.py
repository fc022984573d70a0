"""The ``tgstat`` command line. A TgstatError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tgstat.adapters.replay import Scenario
from tgstat.domain.errors import TgstatError
from tgstat.flows import add_bot_session, add_channel, lake, lake_poll, lake_webhook, serve
from tgstat.flows.bootstrap import bootstrap
from tgstat.flows.collection import Outcome, raise_for_failures, run_collection, summary
from tgstat.flows.database import database_url
from tgstat.flows.migrate import migrate, schema_summary
from tgstat.flows.prefect_server import local_prefect_server
from tgstat.flows.replay import ReplaySummary, replay
from tgstat.flows.report import build_report
from tgstat.flows.settings import Settings

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Settings], int]


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        migrate(url)
        if args.summary:
            print(f"{'table':<32}{'columns':>8}{'rows':>10}")
            for table, columns, rows in schema_summary(url):
                print(f"{table:<32}{columns:>8}{rows:>10}")
        else:
            print("schema is up to date")
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    scenario = Scenario.load(Path(args.file))
    with database_url(settings) as url:
        summary = asyncio.run(_run_replay(settings, url, scenario))
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        print(
            f"replayed {scenario.channel.title!r} {scenario.start:%Y-%m-%d %H:%M} .. "
            f"{scenario.end:%Y-%m-%d %H:%M}: {summary.runs} runs "
            f"({summary.failed_runs} failed), {summary.requests_total} Telegram requests "
            f"{dict(sorted(summary.requests.items()))}, {summary.posts_new} new posts, "
            f"{summary.comments_fetched} comments, {summary.events_merged} admin-log events"
        )
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        migrate(url)
        text = build_report(url, args.channel)
    print(text, end="")
    return 0


def _collect(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        outcomes = asyncio.run(_run_collect(settings, url, args.channel, args.phone))
    print(summary(outcomes))
    raise_for_failures(outcomes)
    return 0


async def _run_collect(
    settings: Settings, url: str, channel: str | None, phone: str | None
) -> list[Outcome]:
    async with bootstrap(settings, url) as app:
        return await run_collection(settings, app, channel, phone)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.prefect_api_url is not None:
        return serve.run(args, settings)
    with local_prefect_server(settings.home, port=args.port) as api_url:
        print(
            f"Prefect server and UI at {api_url.removesuffix('/api')}; serving tg-collect"
            " every 300 s. Ctrl-C stops both.",
            flush=True,
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "tgstat.flows.serve"],
            env={**os.environ, "PREFECT_API_URL": api_url},
        )
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
            raise


def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    pass


def _serve_lake_etl(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.flows import lake_etl_flow  # imports prefect: only when serving

    return lake_etl_flow.run(args, settings)


async def _run_replay(settings: Settings, url: str, scenario: Scenario) -> ReplaySummary:
    async with bootstrap(settings, url) as app:
        return await replay(scenario, app.repository)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tgstat", description="Telegram channel statistics into PostgreSQL."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply database migrations (dbmate)")
    p.add_argument("--summary", action="store_true", help="print tables, columns and rows")
    p.set_defaults(run=_migrate)

    p = sub.add_parser("replay", help="collect a scripted channel on a simulated clock")
    p.add_argument("file", help="scenario JSON (see shared/SCENARIO.md)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(run=_replay)

    p = sub.add_parser("collect", help="collect configured channels once, now")
    p.add_argument("--channel", help="title or id (default: every channel)")
    p.add_argument("--phone", help="only the channels of this session")
    p.set_defaults(run=_collect)

    p = sub.add_parser(
        "serve", help="serve tg-collect every 300 s (starts a local Prefect server if needed)"
    )
    p.add_argument("--port", type=int, default=4200, help="local Prefect server port")
    p.set_defaults(run=_serve)

    p = sub.add_parser("add-bot-session", help="sign a Telegram account in and store it")
    add_bot_session.add_arguments(p)
    p.set_defaults(run=add_bot_session.run)

    p = sub.add_parser("add-channel", help="add a channel by its dialog title")
    add_channel.add_arguments(p)
    p.set_defaults(run=add_channel.run)

    p = sub.add_parser("lake", help="the group message lake: webhook, poll, ETL, SQL")
    lake_sub = p.add_subparsers(dest="lake_command", required=True, metavar="COMMAND")
    for name, text, add_arguments, run in (
        (
            "webhook",
            "serve the Bot API webhook into the raw lake",
            lake_webhook.add_arguments,
            lake_webhook.run,
        ),
        ("poll", "long-poll getUpdates into the raw lake", lake_poll.add_arguments, lake_poll.run),
        (
            "set-webhook",
            "point the bot's webhook at URL",
            lake_poll.add_set_webhook_arguments,
            lake_poll.set_webhook_run,
        ),
        (
            "etl",
            "flatten one day of raw updates into Parquet",
            lake.add_etl_arguments,
            lake.etl_run,
        ),
        (
            "query",
            "SQL (DuckDB) over the enriched Parquet",
            lake.add_query_arguments,
            lake.query_run,
        ),
        ("serve-etl", "serve the lake-etl flow on its daily cron", _no_arguments, _serve_lake_etl),
    ):
        q = lake_sub.add_parser(name, help=text)
        add_arguments(q)
        q.set_defaults(run=run)

    p = sub.add_parser("report", help="print posts and subscriptions per channel")
    p.add_argument("--channel", type=int, metavar="ID", help="only this channel (bare id)")
    p.set_defaults(run=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.run, args)


def run_command(run: Command, args: argparse.Namespace) -> int:
    """Run a command; a TgstatError becomes one line on stderr and exit code 2."""
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args, Settings.from_env())
    except TgstatError as e:
        print(f"tgstat: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tgstat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
