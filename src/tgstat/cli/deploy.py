"""``tgstat deploy --pool NAME``: scale out on a Prefect work pool, one ``tg-collect``
deployment per session (see ``tgstat.flows.serve.pool``), then print the worker commands."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import timedelta
from typing import Any

from tgstat.app.settings import Settings
from tgstat.cli.serve import DEFAULT_INTERVAL_S, interval_type


def register(sub: Any) -> None:
    """Add ``deploy`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser(
        "deploy",
        help="deploy tg-collect (one deployment per session) and lake-etl to a Prefect"
        " process work pool, for `prefect worker` processes",
        description="Create the process work pool NAME when missing and deploy to it, on the"
        " Prefect server of PREFECT_API_URL: tg-collect-s<pk> for every enabled session with"
        " channels (parameter phone=, every --interval seconds, on its own work queue),"
        " tg-collect unscheduled (follow-ups of sessions without one) and lake-etl daily."
        " Idempotent: run it again after adding a session. Prints one `prefect worker"
        " start` per session, and the deployments moved here from another pool. Nothing is"
        " registered unless an enabled session has channels and the pool is missing or of"
        " type process.",
    )
    p.add_argument(
        "--pool",
        required=True,
        type=pool_type,
        metavar="NAME",
        help="the work pool (created as type process; an existing one must be of type"
        " process): at most 100 characters, none of / %% & > < ? #, not starting with prefect",
    )
    p.add_argument(
        "--interval",
        type=interval_type,
        default=DEFAULT_INTERVAL_S,
        metavar="SECONDS",
        help="seconds between tg-collect runs of each session, 5 to 86400 (default 300)",
    )
    p.set_defaults(run=deploy_run)


def pool_type(text: str) -> str:
    """An argparse type: a work pool name Prefect accepts (checked before anything runs)."""
    from tgstat.flows.prefect_api import InvalidPoolNameError, check_pool_name  # no Prefect

    try:
        return check_pool_name(text)
    except InvalidPoolNameError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def deploy_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.flows.serve import require_prefect

    api_url = require_prefect(settings)
    from tgstat.flows.serve.crash_detection import heartbeat_s
    from tgstat.flows.serve.pool import deploy, worker_commands

    pool = args.pool
    done = deploy(settings, pool, timedelta(seconds=args.interval), heartbeat_s())
    if done.paused:
        print(
            f"tgstat: warning: work pool {pool!r} is paused: nothing runs until it is resumed"
            f" (prefect work-pool resume {shlex.quote(pool)})",
            file=sys.stderr,
        )
    print(f"deployed to work pool {pool!r} on {api_url}: {', '.join(done.queues)}")
    for before in sorted(set(done.moved.values()), key=str):
        names = ", ".join(n for n, p in done.moved.items() if p == before)
        origin = "`tgstat serve`" if before is None else f"work pool {before!r}"
        print(f"moved here from {origin} (whose workers no longer get their runs): {names}")
    print("start the workers (each with this machine's TGSTAT_* settings and PREFECT_API_URL):")
    for command in worker_commands(pool, done.queues):
        print(f"  {command}")
    return 0
