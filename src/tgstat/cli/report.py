"""``tgstat report``: subscribers, days, invite links and posts, from the metric views."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from tgstat.app.report import Format, ReportOptions, ReportOptionsError, Section, SortKey
from tgstat.app.settings import Settings

DESCRIPTION = """\
What a channel owner looks at, read from the metric views (docs/metrics.md): subscribers now
and their change over the range, joins / leaves / removals / net per UTC day, joins and
retention per invite link, and the posts with views at 1 h and 24 h, ERR and ERR24. A '-' is
a value tgstat did not observe (NULL), never a zero."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def register(sub: Any) -> None:
    """Add ``report`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser(
        "report",
        help="subscribers, joins per day, invite links and posts (or an HTML page of charts)",
        description=DESCRIPTION,
    )
    p.add_argument("--channel", metavar="NAME", help="dialog title, @username or id (default: all)")
    p.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first UTC day (included)")
    p.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last UTC day (included)")
    p.add_argument(
        "--sort",
        choices=[k.value for k in SortKey],
        default=SortKey.DATE.value,
        help="order of the posts, highest first (date: newest first; unknown values last)",
    )
    p.add_argument("--top", type=_count, metavar="N", help="only the first N posts")
    p.add_argument(
        "--section",
        dest="sections",
        action="append",
        choices=[s.value for s in Section],
        help="a section to show (repeatable; default: subscribers, days, links, posts;"
        " CSV takes one, posts by default)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--format", choices=[f.value for f in Format], help="table (default), csv or json"
    )
    out.add_argument("--html", type=Path, metavar="FILE", help="write a page of charts instead")
    p.add_argument("--output", type=Path, metavar="FILE", help="write to FILE, not stdout")
    p.set_defaults(run=report_run)


def report_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url
    from tgstat.app.migrate import migrate

    if args.html is not None and args.output is not None:
        raise ReportOptionsError("--output goes with --format; --html names its own FILE")
    options = ReportOptions(
        channel=args.channel,
        since=args.since,
        until=args.until,
        sort=args.sort,
        top=args.top,
        format=args.format or Format.TABLE,
        sections=args.sections or (),
    )  # validated before the database is touched
    with database_url(settings) as url:
        migrate(url)
        if args.html is not None:
            from tgstat.app.report.html import write_html

            charts = write_html(url, options, args.html)
            print(f"wrote {args.html} ({charts} charts)", file=sys.stderr)
            return 0
        from tgstat.app.report.render import render, write

        text = render(url, options)
    if args.output is None:
        print(text, end="")
    else:
        write(args.output, text)
    return 0
