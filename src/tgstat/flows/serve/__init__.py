"""``python -m tgstat.flows.serve``: serve ``tg-collect`` (every 300 s) and ``lake-etl``
(daily) in one runner on the Prefect server of PREFECT_API_URL.

Needs PREFECT_API_URL: without it Prefect silently serves against a throwaway server whose
scheduler never fires. ``tgstat serve`` (``just serve``) starts a local server first.
SIGTERM, SIGINT and SIGHUP stop the runner: runs in flight are cancelled through the API.

This module imports no Prefect (``tgstat serve`` checks the server with it); the runner is
in ``tgstat.flows.serve.runner`` and the deployments in ``tgstat.flows.serve.deployments``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from tgstat.app.settings import Settings
from tgstat.flows.prefect_api import (
    PrefectNotConfiguredError,
    PrefectUnreachableError,
    require_prefect,
)

__all__ = [
    "PrefectNotConfiguredError",
    "PrefectUnreachableError",
    "interval_seconds",
    "main",
    "require_prefect",
]


Deployments = Callable[[Settings, timedelta], Sequence[Any]]
"""Builds the deployments to serve from the settings and the collection interval."""
DEFAULT_INTERVAL_S = 300


def interval_seconds(text: str) -> int:
    """An argparse type: a collection interval, 5 seconds to one day."""
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 5 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"an interval is 5 to 86400 seconds, not {seconds}")
    return seconds


def main(deployments: Deployments, argv: Sequence[str] | None = None) -> int:
    """The entry point: a TgstatError is one line and exit 2; a stop signal exits 0."""
    from tgstat.cli.errors import Parser, run_command

    parser = Parser(
        prog="python -m tgstat.flows.serve",
        description="Serve tg-collect every 300 s and lake-etl daily in one runner on the"
        " Prefect server of PREFECT_API_URL, until SIGTERM, SIGINT or SIGHUP.",
    )
    parser.add_argument(
        "--interval",
        type=interval_seconds,
        default=DEFAULT_INTERVAL_S,
        help=f"seconds between tg-collect runs (default {DEFAULT_INTERVAL_S})",
    )

    def run(args: argparse.Namespace, settings: Settings) -> int:
        require_prefect(settings)
        from tgstat.flows.serve.runner import serve_until_stopped

        serve_until_stopped(deployments(settings, timedelta(seconds=args.interval)))
        return 0

    return run_command(run, parser.parse_args(argv))
