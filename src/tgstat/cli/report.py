"""``tgstat report``: posts and subscriptions per channel, from the database."""

from __future__ import annotations

import argparse
from typing import Any

from tgstat.app.settings import Settings


def register(sub: Any) -> None:
    """Add ``report`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser("report", help="print posts and subscriptions per channel")
    p.add_argument("--channel", type=int, metavar="ID", help="only this channel (bare id)")
    p.set_defaults(run=report_run)


def report_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url
    from tgstat.app.migrate import migrate
    from tgstat.app.report import build_report

    with database_url(settings) as url:
        migrate(url)
        text = build_report(url, args.channel)
    print(text, end="")
    return 0
