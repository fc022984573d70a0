"""``tgstat report``: a terminal report of what the database holds, per channel."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

from tgstat.app.database import connect
from tgstat.ports.repository import UnknownChannelError

CHANNELS_SQL = """
SELECT tg_channel_id, tg_channel_name, tg_channel_username
FROM config__tg_channel
WHERE %(channel)s::bigint IS NULL OR tg_channel_id = %(channel)s::bigint
ORDER BY tg_channel_id
"""

POSTS_SQL = """
SELECT p.tg_post_id, p.date_of_post, p.views, p.views_1h, p.views_24h,
       p.comments_messages_count, p.total_reactions_count,
       top.label, top.reaction_count, p.media
FROM stat_post p
LEFT JOIN LATERAL (
    SELECT coalesce(r.reaction_emoticon, 'custom:' || r.reaction_emoticon_code) AS label,
           r.reaction_count
    FROM stat_reaction r
    WHERE r.tg_channel_id = p.tg_channel_id AND r.tg_post_id = p.tg_post_id
      AND r.reaction_count > 0
    ORDER BY r.reaction_count DESC, r.reaction_emoticon_code
    LIMIT 1
) top ON true
WHERE p.tg_channel_id = %(channel)s
ORDER BY p.tg_post_id
"""

USERS_SQL = """
SELECT count(*) FILTER (WHERE joined_at IS NOT NULL),
       count(*) FILTER (WHERE left_at IS NOT NULL),
       count(*) FILTER (WHERE joined_at IS NOT NULL AND is_joined_by_link),
       count(*) FILTER (WHERE joined_at IS NOT NULL AND is_joined_by_link IS NOT NULL),
       count(*) FILTER (WHERE joined_at IS NOT NULL AND premium),
       count(*) FILTER (WHERE joined_at IS NOT NULL AND left_at IS NULL)
FROM stat_user
WHERE tg_channel_id = %(channel)s
"""

POST_HEADER = (
    "post",
    "date (UTC)",
    "views",
    "views 1h",
    "views 24h",
    "comments",
    "reactions",
    "top reaction",
    "media",
)
LEFT_ALIGNED = frozenset({1, 7, 8})
NULL = "-"


def build_report(url: str, channel_id: int | None = None) -> str:
    """The report for every configured channel, or only ``channel_id``.

    Raises UnknownChannelError when ``channel_id`` is given but not configured.
    """
    with connect(url) as conn:
        channels = conn.execute(CHANNELS_SQL, {"channel": channel_id}).fetchall()
        if channel_id is not None and not channels:
            raise UnknownChannelError(f"channel {channel_id} is not in the database")
        if not channels:
            return "no channels in the database (run `tgstat replay FILE` first)\n"
        sections = []
        for tg_channel_id, name, username in channels:
            params = {"channel": tg_channel_id}
            posts = conn.execute(POSTS_SQL, params).fetchall()
            users = conn.execute(USERS_SQL, params).fetchone()
            assert users is not None  # an aggregate always returns one row
            handle = f"@{username}, " if username else ""
            title = f"{name} ({handle}id {tg_channel_id}): {len(posts)} posts"
            sections.append(
                "\n".join(
                    [
                        title,
                        "=" * _width(title),
                        "",
                        _table(POST_HEADER, [_post_row(p) for p in posts]),
                        "",
                        _subscriptions(*users),
                    ]
                )
            )
    return "\n\n".join(sections) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return NULL
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    return str(value)


def _post_row(row: Sequence[object]) -> list[str]:
    post_id, date, views, views_1h, views_24h, comments, reactions, label, count, media = row
    top = NULL if label is None else f"{label} {count}"
    cells = [post_id, date, views, views_1h, views_24h, comments, reactions, top, media]
    return [_cell(c) for c in cells]


def _width(text: str) -> int:
    """Terminal columns of ``text``: wide (emoji, CJK) characters take two, marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\ufe0e\ufe0f\u200d":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return "  (no posts yet)"
    widths = [max(_width(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (width - _width(cell))
            cells.append(cell + pad if i in LEFT_ALIGNED else pad + cell)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    if whole == 0:
        return f"{part} of {whole}"
    return f"{part} of {whole} ({100 * part / whole:.0f}%)"


def _subscriptions(
    joins: int, leaves: int, by_link: int, link_known: int, premium: int, subscribed: int
) -> str:
    lines = [
        ("joins", str(joins)),
        ("leaves", str(leaves)),
        ("net", f"{joins - leaves:+d}"),
        ("joined by link", _share(by_link, link_known)),
        ("premium among joins", _share(premium, joins)),
        ("subscribed now", f"{subscribed} (joined in the log window, not left)"),
    ]
    label_width = max(len(label) for label, _ in lines)
    body = [f"  {label:<{label_width}}  {value}" for label, value in lines]
    return "\n".join(["subscriptions (admin log, stat_user episodes)", *body])
