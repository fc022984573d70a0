"""What ``tgstat doctor`` reports: one verdict per check."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@attrs.frozen
class Check:
    """One line of the report: a FAIL makes ``tgstat doctor`` exit non-zero."""

    name: str
    verdict: Verdict
    detail: str


def ago(then: datetime | None, now: datetime) -> str:
    """``3 min ago (2026-11-29 10:00 UTC)``, or ``never``."""
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit} ago ({then:%Y-%m-%d %H:%M} UTC)"
    return f"{seconds} s ago"
