"""The terminal report: per channel, the sections as aligned tables, ``-`` for NULL."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from tgstat.app.report.options import LEGEND, ReportOptions, Section, SortKey
from tgstat.app.report.query import ChannelReport

NULL = "-"

Column = tuple[str, Callable[[dict[str, Any]], Any], bool]
"""(header, the cell's value from a view row, left-aligned)."""


def width(text: str) -> int:
    """Terminal columns of ``text``: wide (emoji, CJK) characters take two, marks none."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\ufe0e\ufe0f\u200d":
            continue
        total += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return total


def cell(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def percent(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}%"


def signed(value: int | None) -> str | None:
    return None if value is None else f"{value:+d}"


def table(columns: Sequence[Column], rows: Sequence[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f"  ({empty})"
    cells = [[cell(get(row)) for _, get, _ in columns] for row in rows]
    header = [h for h, _, _ in columns]
    widths = [max(width(r[i]) for r in (header, *cells)) for i in range(len(columns))]
    lines = []
    for row in (header, *cells):
        parts = []
        for text, size, (_, _, left) in zip(row, widths, columns, strict=True):
            pad = " " * (size - width(text))
            parts.append(text + pad if left else pad + text)
        lines.append(("  " + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


DAY_COLUMNS: list[Column] = [
    ("day", field("day"), True),
    ("joins", field("joins"), False),
    ("leaves", field("leaves"), False),
    ("removals", field("removals"), False),
    ("net", lambda r: signed(r["net"]), False),
    ("by link", field("joins_by_link"), False),
    ("premium", field("premium_joins"), False),
    ("bots", field("bot_joins"), False),
    ("subscribers", field("subscribers"), False),
    ("posts", field("posts_published"), False),
    ("mean views 24h", field("mean_views_24h"), False),
]

LINK_COLUMNS: list[Column] = [
    ("invite link", field("invite_link"), True),
    ("title", lambda r: r["invite_link_title"] or "", True),  # NULL: the link has none
    ("joins", field("joins"), False),
    ("still subscribed", field("still_subscribed"), False),
    ("retention", lambda r: percent(r["still_subscribed"] / r["joins"]), False),
    ("leaves", field("leaves"), False),
    ("removals", field("removals"), False),
    (
        "median days (ended)",
        lambda r: _days(r["median_days_subscribed_of_left"]),
        False,
    ),
]


def _days(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _note(row: dict[str, Any]) -> str:
    notes = []
    if row["grouped_id"] is not None:
        notes.append(f"album of {row['messages']}")
    if row["is_deleted"]:
        notes.append(f"deleted {cell(row['deleted_at'])}")
    return ", ".join(notes)


POST_COLUMNS: list[Column] = [
    ("post", field("tg_post_id"), False),
    ("date (UTC)", field("date_of_post"), True),
    ("views", field("views"), False),
    ("views 1h", field("views_1h"), False),
    ("views 24h", field("views_24h"), False),
    ("ERR", lambda r: percent(r["err"]), False),
    ("ERR24", lambda r: percent(r["err_24h"]), False),
    ("reactions", field("reactions"), False),
    ("comments", field("comments"), False),
    ("forwards", field("forwards"), False),
    ("media", lambda r: r["media"] or "", True),  # NULL media: a text post, not unknown
    ("note", _note, True),
]

CURVE_COLUMNS: list[Column] = [
    ("post", field("tg_post_id"), False),
    ("taken at (UTC)", field("taken_at"), True),
    ("minutes", field("minutes_since_post"), False),
    ("views", field("views"), False),
]


def subscribers_block(summary: dict[str, Any]) -> str:
    now_day, before_day = summary["subscribers_day"], summary["subscribers_before_day"]
    before = _reading(before_day, "no reading")
    first_day = summary["first_day"]
    if before_day is not None and first_day is not None and before_day >= first_day:
        before += ", the range's first day with one (none before it)"
    lines = [
        ("now", summary["subscribers"], _reading(now_day, "no reading in the range")),
        ("before", summary["subscribers_before"], before),
        ("change", signed(summary["subscribers_change"]), "now - before"),
        ("joins", summary["joins"], _joins_detail(summary)),
        ("leaves", summary["leaves"], "left on their own"),
        ("removals", summary["removals"], "removed by an admin"),
        ("net", signed(summary["net"]), "joins - leaves - removals (admin log)"),
        ("bots added", summary["bot_joins"], "not counted in joins"),
    ]
    body = [(label, cell(value), note) for label, value, note in lines]
    size = max(width(value) for _, value, _ in body)
    return "\n".join(f"  {label:<10}  {value:>{size}}  {note}" for label, value, note in body)


def _reading(day: date | None, missing: str) -> str:
    return missing if day is None else f"the last reading of {day.isoformat()}"


def _joins_detail(summary: dict[str, Any]) -> str:
    if summary["joins"] is None:
        return "people (bots apart)"
    return f"people: {summary['joins_by_link']} by invite link, {summary['premium_joins']} premium"


def _posts_title(options: ReportOptions) -> str:
    order = "newest first" if options.sort is SortKey.DATE else f"highest {options.sort} first"
    top = f", top {options.top}" if options.top else ""
    return f"posts (metric_post: one row per publication; {order}{top})"


def channel_text(report: ChannelReport, options: ReportOptions) -> str:
    summary = report.summary.dicts()[0]
    if summary["first_day"] is None:
        span = "nothing observed in the range"
    else:
        span = f"{cell(summary['first_day'])} to {cell(summary['last_day'])} (UTC days)"
    title = f"{report.channel.label}: {span}"
    parts = [title, "=" * width(title)]
    for section in options.shown:
        parts.append("")
        parts.extend(_section(report, section, options, summary))
    return "\n".join(parts)


def _section(
    report: ChannelReport, section: Section, options: ReportOptions, summary: dict[str, Any]
) -> list[str]:
    if section is Section.SUBSCRIBERS:
        return ["subscribers (from metric_channel_day)", subscribers_block(summary)]
    if section is Section.DAYS:
        return ["per day (metric_channel_day)", table(DAY_COLUMNS, report.days.dicts(), "no day")]
    if section is Section.LINKS:
        body = table(LINK_COLUMNS, report.links.dicts(), "no join through an invite link")
        return ["invite links (metric_invite_link; all-time figures)", body]
    if section is Section.POSTS:
        return [_posts_title(options), table(POST_COLUMNS, report.posts.dicts(), "no posts")]
    body = table(CURVE_COLUMNS, report.curves.dicts(), "no observations")
    return ["views curves (metric_post_views_curve)", body]


def to_text(reports: list[ChannelReport], options: ReportOptions) -> str:
    """The report of every channel, then the legend."""
    if not reports:
        return "no channels in the database (run `tgstat replay FILE` first)\n"
    body = "\n\n\n".join(channel_text(r, options) for r in reports)
    return f"{body}\n\n{LEGEND}\n"
