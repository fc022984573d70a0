"""What ``tgstat report`` is asked for: channel, UTC day range, sort, sections, format."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta

import attrs

from tgstat.domain.errors import TgstatError

LEGEND = "-  not observed (unknown: NULL in the views), never a zero; 0 is a zero Telegram reported"
"""What ``-`` means in the table; CSV writes an empty field and JSON ``null`` for it."""


class ReportOptionsError(TgstatError):
    """Raised when report options contradict each other (``--since`` after ``--until``, ...)."""


class ReportOutputError(TgstatError):
    """Raised when the report cannot be written to the file it was asked to go to."""


class Section(enum.StrEnum):
    """A part of the report, each read from one metric view."""

    SUBSCRIBERS = "subscribers"
    """Subscribers now and their change over the range, with the range's admin-log totals."""
    DAYS = "days"
    """``metric_channel_day``: joins, leaves, removals, net per UTC day."""
    LINKS = "links"
    """``metric_invite_link``: joins and who is still subscribed, per invite link."""
    POSTS = "posts"
    """``metric_post``: one row per publication, sorted, the top N."""
    CURVES = "curves"
    """``metric_post_views_curve`` of the listed posts (not shown unless asked for)."""


DEFAULT_SECTIONS = (Section.SUBSCRIBERS, Section.DAYS, Section.LINKS, Section.POSTS)


class SortKey(enum.StrEnum):
    """How posts are ordered: highest first (``date``: newest first), unknown values last."""

    VIEWS = "views"
    VIEWS_24H = "views_24h"
    ERR_24H = "err_24h"
    REACTIONS = "reactions"
    COMMENTS = "comments"
    DATE = "date"

    @property
    def column(self) -> str:
        """The ``metric_post`` column sorted on."""
        return "date_of_post" if self is SortKey.DATE else self.value


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _sections(value: object) -> tuple[Section, ...]:
    """Sections in the order given, each once; empty: the format's default."""
    items = value if isinstance(value, list | tuple) else ()
    return tuple(dict.fromkeys(Section(s) for s in items))


@attrs.frozen
class ReportOptions:
    """A validated request for the report; raises ReportOptionsError when inconsistent.

    ``since`` and ``until`` are UTC days, both included; None: unbounded. ``top`` limits the
    posts (after sorting); None: all. CSV is one table, so it takes exactly one section
    (``posts`` when none is named).
    """

    channel: str | None = None
    since: date | None = None
    until: date | None = None
    sort: SortKey = attrs.field(default=SortKey.DATE, converter=SortKey)
    top: int | None = None
    format: Format = attrs.field(default=Format.TABLE, converter=Format)
    sections: tuple[Section, ...] = attrs.field(default=(), converter=_sections)
    """As asked; ``shown`` resolves the default."""

    def __attrs_post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ReportOptionsError(
                f"--since {self.since.isoformat()} is after --until {self.until.isoformat()}"
            )
        if self.top is not None and self.top < 1:
            raise ReportOptionsError(f"--top must be 1 or more, got {self.top}")
        if self.channel is not None and not self.channel.strip():
            raise ReportOptionsError("--channel is empty: give a title, @username or id")
        if self.format is Format.CSV and len(self.shown) != 1:
            names = ", ".join(s.value for s in self.shown)
            raise ReportOptionsError(
                f"--format csv writes one table: pick one --section (got {names})"
            )

    @property
    def shown(self) -> tuple[Section, ...]:
        """The sections to write: those asked for, else ``posts`` for CSV and
        ``DEFAULT_SECTIONS`` otherwise."""
        if self.sections:
            return self.sections
        return (Section.POSTS,) if self.format is Format.CSV else DEFAULT_SECTIONS

    @property
    def start(self) -> datetime | None:
        """The first instant of the range (``since`` at 00:00 UTC)."""
        return None if self.since is None else datetime.combine(self.since, time(), UTC)

    @property
    def stop(self) -> datetime | None:
        """The instant the range ends, excluded (the day after ``until``, 00:00 UTC)."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)
