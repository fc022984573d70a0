"""``tgstat doctor``: one line per check with its verdict; exit 1 when something is wrong."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from tgstat.app.settings import Settings

EXIT_UNHEALTHY = 1


def register(sub: Any) -> None:
    """Add ``doctor`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser(
        "doctor",
        help="check the database, sessions, channels, Prefect, follow-ups, lake and secret key",
        description="Check everything tgstat needs, one line per check (ok, warn, FAIL, skip),"
        " and exit 1 when a check fails. Reads only.",
    )
    p.set_defaults(run=doctor_run)


def doctor_run(_args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.doctor import Verdict, run_checks

    checks = run_checks(settings, datetime.now(UTC))
    width = max(len(c.name) for c in checks)
    for check in checks:
        print(f"{check.verdict.value:<5} {check.name:<{width}}  {check.detail}")
    failed = [c.name for c in checks if c.verdict is Verdict.FAIL]
    warned = [c.name for c in checks if c.verdict is Verdict.WARN]
    if failed:
        print(f"tgstat doctor: {len(failed)} failed: {', '.join(failed)}")
        return EXIT_UNHEALTHY
    print(f"tgstat doctor: healthy{f' ({len(warned)} warnings)' if warned else ''}")
    return 0
