"""The report's reads: the metric views (docs/metrics.md), one query per section.

The views are the interface, so the report reads nothing else but the channel list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import psycopg
from psycopg import sql

from tgstat.app.report.options import ReportOptions, ReportOptionsError, Section, SortKey
from tgstat.ports.repository import UnknownChannelError

Row = tuple[Any, ...]

CHANNELS_SQL = """
SELECT tg_channel_id, tg_channel_name, tg_channel_username
FROM config__tg_channel
ORDER BY tg_channel_id
"""

# Subscribers now: the range's last day with a reading. Before: the last such day before the
# range, else the range's first one. Totals over the range's days (NULL: no day observed).
SUMMARY_SQL = """
WITH channel_day AS (
    SELECT * FROM metric_channel_day WHERE tg_channel_id = %(channel)s
), in_range AS (
    SELECT * FROM channel_day
    WHERE day >= coalesce(%(since)s::date, '-infinity')
      AND day <= coalesce(%(until)s::date, 'infinity')
), last_reading AS (
    SELECT day, subscribers FROM in_range
    WHERE subscribers IS NOT NULL ORDER BY day DESC LIMIT 1
), first_reading AS (
    SELECT day, subscribers FROM (
        (SELECT day, subscribers, 0 AS rank FROM channel_day
         WHERE subscribers IS NOT NULL AND day < %(since)s::date ORDER BY day DESC LIMIT 1)
        UNION ALL
        (SELECT day, subscribers, 1 FROM in_range
         WHERE subscribers IS NOT NULL ORDER BY day LIMIT 1)
    ) candidate
    ORDER BY rank LIMIT 1
), totals AS (
    SELECT min(day) AS first_day, max(day) AS last_day,
           sum(joins)::bigint AS joins, sum(leaves)::bigint AS leaves,
           sum(removals)::bigint AS removals, sum(net)::bigint AS net,
           sum(joins_by_link)::bigint AS joins_by_link,
           sum(premium_joins)::bigint AS premium_joins, sum(bot_joins)::bigint AS bot_joins,
           sum(posts_published)::bigint AS posts_published
    FROM in_range
)
SELECT %(channel)s::bigint AS tg_channel_id,
       t.first_day, t.last_day,
       l.subscribers AS subscribers,
       l.day AS subscribers_day,
       f.subscribers AS subscribers_before,
       f.day AS subscribers_before_day,
       l.subscribers - f.subscribers AS subscribers_change,
       t.joins, t.leaves, t.removals, t.net, t.joins_by_link, t.premium_joins, t.bot_joins,
       t.posts_published
FROM totals t
LEFT JOIN last_reading l ON true
LEFT JOIN first_reading f ON true
"""

DAYS_SQL = """
SELECT * FROM metric_channel_day
WHERE tg_channel_id = %(channel)s
  AND day >= coalesce(%(since)s::date, '-infinity') AND day <= coalesce(%(until)s::date, 'infinity')
ORDER BY day
"""

# Links that brought someone in the range; their figures are all-time (who stayed since).
LINKS_SQL = """
SELECT * FROM metric_invite_link
WHERE tg_channel_id = %(channel)s
  AND last_join_at >= coalesce(%(start)s::timestamptz, '-infinity')
  AND first_join_at < coalesce(%(stop)s::timestamptz, 'infinity')
ORDER BY joins DESC, invite_link
"""

POSTS_SQL = """
SELECT * FROM metric_post
WHERE tg_channel_id = %(channel)s
  AND date_of_post >= coalesce(%(start)s::timestamptz, '-infinity')
  AND date_of_post < coalesce(%(stop)s::timestamptz, 'infinity')
ORDER BY {sort} DESC NULLS LAST, date_of_post DESC, tg_post_id DESC
LIMIT %(top)s
"""

CURVES_SQL = """
SELECT * FROM metric_post_views_curve
WHERE tg_channel_id = %(channel)s AND tg_post_id = ANY(%(posts)s::bigint[])
  AND minutes_since_post <= coalesce(%(within)s::float8, 'infinity')
ORDER BY tg_post_id, taken_at
"""


@attrs.frozen
class Table:
    """Rows of a query with its column names, in order."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


@attrs.frozen
class Channel:
    tg_channel_id: int
    title: str
    username: str | None

    @property
    def label(self) -> str:
        handle = f"@{self.username}, " if self.username else ""
        return f"{self.title} ({handle}id {self.tg_channel_id})"


@attrs.frozen
class ChannelReport:
    """Every section of one channel, for the range and order of the options."""

    channel: Channel
    summary: Table
    """One row: subscribers now, before the range, change; the range's totals."""
    days: Table
    links: Table
    posts: Table
    curves: Table
    """The curves of ``posts`` when the ``curves`` section is shown (else empty)."""


def select_channels(conn: psycopg.Connection[Any], selector: str | None) -> list[Channel]:
    """Every configured channel, or the one ``selector`` names: its dialog title (exactly,
    else ignoring case), ``@username`` or id. Raises UnknownChannelError when none matches
    and ReportOptionsError when a title names several."""
    channels = [Channel(*row) for row in conn.execute(CHANNELS_SQL).fetchall()]
    if selector is None:
        return channels
    wanted = selector.strip()
    if wanted.startswith("@"):
        name = wanted[1:].casefold()
        found = [c for c in channels if (c.username or "").casefold() == name]
    else:
        found = [c for c in channels if str(c.tg_channel_id) == wanted]
        found = found or [c for c in channels if c.title == wanted]
        found = found or [c for c in channels if c.title.casefold() == wanted.casefold()]
    if len(found) > 1:
        ids = ", ".join(str(c.tg_channel_id) for c in found)
        raise ReportOptionsError(
            f"--channel {wanted!r} names {len(found)} channels ({ids}): use the id"
        )
    if not found:
        known = "; ".join(c.label for c in channels) or "none: run `tgstat replay FILE` first"
        raise UnknownChannelError(f"no channel {wanted!r} in the database (channels: {known})")
    return found


def read_reports(conn: psycopg.Connection[Any], options: ReportOptions) -> list[ChannelReport]:
    """The report of every channel ``options.channel`` selects."""
    return [_read(conn, c, options) for c in select_channels(conn, options.channel)]


def read_curves(
    conn: psycopg.Connection[Any],
    channel: int,
    posts: Sequence[int],
    within_minutes: float | None = None,
) -> Table:
    """``metric_post_views_curve`` of ``posts``, up to ``within_minutes`` after each post."""
    params = {"channel": channel, "posts": list(posts), "within": within_minutes}
    return _table(conn.execute(CURVES_SQL, params))


def read_posts(
    conn: psycopg.Connection[Any],
    channel: int,
    options: ReportOptions,
    sort: SortKey,
    top: int | None,
) -> Table:
    """``metric_post`` of the range of ``options``, highest ``sort`` first (unknown values
    last), the first ``top`` (None: all)."""
    query = sql.SQL(POSTS_SQL).format(sort=sql.Identifier(sort.column))
    return _table(conn.execute(query, {**_range(options), "channel": channel, "top": top}))


def _read(conn: psycopg.Connection[Any], channel: Channel, options: ReportOptions) -> ChannelReport:
    params = {**_range(options), "channel": channel.tg_channel_id}
    posts = read_posts(conn, channel.tg_channel_id, options, options.sort, options.top)
    return ChannelReport(
        channel=channel,
        summary=_table(conn.execute(SUMMARY_SQL, params)),
        days=_table(conn.execute(DAYS_SQL, params)),
        links=_table(conn.execute(LINKS_SQL, params)),
        posts=posts,
        curves=(
            read_curves(conn, channel.tg_channel_id, posts.column("tg_post_id"))
            if Section.CURVES in options.shown
            else Table((), ())  # every snapshot of every post: read only when asked for
        ),
    )


def _range(options: ReportOptions) -> dict[str, Any]:
    return {
        "since": options.since,
        "until": options.until,
        "start": options.start,
        "stop": options.stop,
    }


def _table(cursor: psycopg.Cursor[Any]) -> Table:
    assert cursor.description is not None  # every query here returns rows
    return Table(tuple(d.name for d in cursor.description), tuple(cursor.fetchall()))
