"""``tgstat deploy --pool NAME``: scale out on a Prefect work pool, one ``tg-collect``
deployment per session (see ``tgstat.flows.serve.pool``), then print the worker commands."""

from __future__ import annotations

import argparse
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
        " start` per session.",
    )
    p.add_argument("--pool", required=True, help="the work pool (created as type process)")
    p.add_argument(
        "--interval",
        type=interval_type,
        default=DEFAULT_INTERVAL_S,
        metavar="SECONDS",
        help="seconds between tg-collect runs of each session (default 300)",
    )
    p.set_defaults(run=deploy_run)


def deploy_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.flows.serve import require_prefect

    api_url = require_prefect(settings)
    from tgstat.flows.serve.crash_detection import heartbeat_s
    from tgstat.flows.serve.pool import deploy, worker_commands

    queues = deploy(settings, args.pool, timedelta(seconds=args.interval), heartbeat_s())
    print(f"deployed to work pool {args.pool!r} on {api_url}: {', '.join(queues)}")
    print("start the workers (each with this machine's TGSTAT_* settings and PREFECT_API_URL):")
    for command in worker_commands(args.pool, queues):
        print(f"  {command}")
    return 0
