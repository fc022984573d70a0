"""``tgstat migrate``, ``tgstat replay`` and ``tgstat collect``: the collection commands."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from tgstat.app.settings import Settings


def register(sub: Any) -> None:
    """Add ``migrate``, ``replay`` and ``collect`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser("migrate", help="apply database migrations (dbmate)")
    p.add_argument("--summary", action="store_true", help="print tables, columns and rows")
    p.set_defaults(run=migrate_run)

    p = sub.add_parser("replay", help="collect a scripted channel on a simulated clock")
    p.add_argument("file", help="scenario JSON (format: docs/scenario-format.md)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(run=replay_run)

    p = sub.add_parser("collect", help="collect configured channels once, now")
    p.add_argument("--channel", help="title or id (default: every channel)")
    p.add_argument("--phone", help="only the channels of this session")
    p.set_defaults(run=collect_run)


def migrate_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url
    from tgstat.app.migrate import migrate, schema_summary

    with database_url(settings) as url:
        migrate(url)
        if args.summary:
            print(f"{'table':<32}{'columns':>8}{'rows':>10}")
            for table, columns, rows in schema_summary(url):
                print(f"{table:<32}{columns:>8}{rows:>10}")
        else:
            print("schema is up to date")
    return 0


def replay_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.adapters.replay import Scenario
    from tgstat.app.bootstrap import bootstrap
    from tgstat.app.database import database_url
    from tgstat.app.replay import ReplaySummary, replay

    scenario = Scenario.load(Path(args.file))

    async def run(url: str) -> ReplaySummary:
        async with bootstrap(settings, url) as app:
            return await replay(scenario, app.repository)

    with database_url(settings) as url:
        summary = asyncio.run(run(url))
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


def collect_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.bootstrap import bootstrap
    from tgstat.app.collection import Outcome, raise_for_failures, run_collection, summary
    from tgstat.app.database import database_url

    async def run(url: str) -> list[Outcome]:
        async with bootstrap(settings, url) as app:
            await register_dry_run(settings, app)
            return await run_collection(settings, app, args.channel, args.phone)

    with database_url(settings) as url:
        outcomes = asyncio.run(run(url))
    print(summary(outcomes))
    raise_for_failures(outcomes)
    return 0


async def register_dry_run(settings: Settings, app: Any) -> None:
    """In a dry run (TGSTAT_REPLAY_SCENARIO), make sure the scenario's channel is configured,
    so that ``collect`` and ``serve`` answer from it without a ``tgstat replay`` first."""
    if settings.replay_scenario is None:
        return
    from tgstat.adapters.replay import Scenario
    from tgstat.app.replay import register

    scenario = Scenario.load(settings.replay_scenario)
    await register(app.repository, scenario)
    print(
        f"dry run: {scenario.channel.title!r} answers from {settings.replay_scenario}"
        " on the wall clock",
        flush=True,
    )


def ensure_dry_run_channel(settings: Settings, url: str) -> None:
    """``register_dry_run`` for commands without an event loop of their own."""
    if settings.replay_scenario is None:
        return
    from tgstat.app.bootstrap import bootstrap

    async def run() -> None:
        async with bootstrap(settings, url, migrated=False) as app:
            await register_dry_run(settings, app)

    asyncio.run(run())
