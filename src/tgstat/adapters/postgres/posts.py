"""Posts, their reactions and the refresh rotation cursor: the PostStore port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import sql

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import Post, ReactionCount
from tgstat.ports.post_store import PostStore, TrackedPost
from tgstat.ports.repository import UnknownChannelError

_POST_IN_COLUMNS = (
    ("tg_post_id", "int8"),
    ("message", "text"),
    ("views", "int8"),
    ("total_reactions_count", "int8"),
    ("comments_messages_count", "int8"),
    ("link", "text"),
    ("media", "text"),
    ("date_of_post", "timestamptz"),
    ("forwards", "int8"),
    ("has_discussion", "bool"),
    ("grouped_id", "int8"),
)
_POST_COLUMNS = (("timestamp", "timestamptz"), ("tg_channel_id", "int8"), *_POST_IN_COLUMNS)

_TRACKED_POSTS = sql.SQL("""
SELECT p.tg_post_id, p.date_of_post, p.comments_messages_count,
       (SELECT max(c.tg_comment_id) FROM stat_comment c
        WHERE c.tg_channel_id = p.tg_channel_id AND c.tg_post_id = p.tg_post_id),
       p.has_discussion, p.thread_unreadable_at, p.views, p.forwards, p.total_reactions_count,
       p."timestamp"
FROM stat_post p
WHERE {where}
ORDER BY p.tg_post_id
""")

_EXISTING_POSTS = """
SELECT p.tg_post_id
FROM stat_post p JOIN unnest(%(ids)s::int8[]) AS n(id) ON p.tg_post_id = n.id
WHERE p.tg_channel_id = %(channel)s
"""

_UPDATE_POSTS = """
UPDATE stat_post AS p SET
    "timestamp" = %(at)s,
    message = s.message,
    views = COALESCE(s.views, p.views),
    total_reactions_count = COALESCE(s.total_reactions_count, p.total_reactions_count),
    comments_messages_count = COALESCE(s.comments_messages_count, p.comments_messages_count),
    link = s.link,
    media = s.media,
    date_of_post = s.date_of_post,
    forwards = COALESCE(s.forwards, p.forwards),
    has_discussion = s.has_discussion,
    grouped_id = s.grouped_id
FROM tgstat_post_in AS s
WHERE p.tg_channel_id = %(channel)s AND p.tg_post_id = s.tg_post_id
"""

_DELETE_STALE_REACTIONS = """
DELETE FROM stat_reaction r
WHERE r.tg_channel_id = %(channel)s AND r.tg_post_id = ANY(%(posts)s)
  AND NOT EXISTS (
      SELECT 1 FROM unnest(%(r_posts)s::int8[], %(codes)s::text[]) AS n(post, code)
      WHERE n.post = r.tg_post_id AND n.code = r.reaction_emoticon_code)
"""

_UPSERT_REACTIONS = """
INSERT INTO stat_reaction AS r (
    "timestamp", tg_channel_id, tg_post_id, reaction_count, reaction_emoticon,
    reaction_emoticon_code, reaction_kind)
SELECT %(at)s, %(channel)s, post, n, emoticon, code, kind
FROM unnest(%(r_posts)s::int8[], %(counts)s::int8[], %(emoticons)s::text[],
            %(codes)s::text[], %(kinds)s::text[]) AS u(post, n, emoticon, code, kind)
ON CONFLICT (tg_channel_id, tg_post_id, reaction_emoticon_code) DO UPDATE SET
    "timestamp" = EXCLUDED."timestamp",
    reaction_count = EXCLUDED.reaction_count,
    reaction_emoticon = EXCLUDED.reaction_emoticon,
    reaction_kind = EXCLUDED.reaction_kind
"""


class PostgresPostStore(PostgresConnection, PostStore):
    """PostStore over ``stat_post``, ``stat_reaction`` and the channel's rotation cursor."""

    async def max_post_id(self, channel_id: ChannelId) -> PostId | None:
        rows = await self._fetchall(
            "SELECT max(tg_post_id) FROM stat_post WHERE tg_channel_id = %(c)s",
            {"c": channel_id},
        )
        value = rows[0][0]
        return None if value is None else PostId(value)

    async def upsert_posts(
        self, channel_id: ChannelId, posts: Sequence[Post], at: datetime
    ) -> None:
        if not posts:
            return
        posts = list({p.id: p for p in posts}.values())  # the last observation of a post wins
        rows = await self._fetchall(
            _EXISTING_POSTS, {"channel": channel_id, "ids": [p.id for p in posts]}
        )
        existing = {r[0] for r in rows}
        new = [p for p in posts if p.id not in existing]
        if new:
            await self._copy_new(
                "stat_post", _POST_COLUMNS, ((at, channel_id, *_post_row(p)) for p in new)
            )
        if existing:
            await self._copy_in(
                "tgstat_post_in",
                _POST_IN_COLUMNS,
                (_post_row(p) for p in posts if p.id in existing),
            )
            await self._execute(_UPDATE_POSTS, {"at": at, "channel": channel_id})

    async def replace_reactions(
        self,
        channel_id: ChannelId,
        reactions: Mapping[PostId, Sequence[ReactionCount]],
        at: datetime,
        *,
        keep_absent: bool = False,
    ) -> None:
        if not reactions:
            return
        flat = [(post, r) for post, rs in reactions.items() for r in rs]
        params = {
            "at": at,
            "channel": channel_id,
            "posts": list(reactions),
            "r_posts": [post for post, _ in flat],
            "counts": [r.count for _, r in flat],
            "emoticons": [r.emoticon for _, r in flat],
            "codes": [r.code for _, r in flat],
            "kinds": [r.kind.value for _, r in flat],
        }
        if not keep_absent:
            await self._execute(_DELETE_STALE_REACTIONS, params)
        if flat:
            await self._execute(_UPSERT_REACTIONS, params)

    async def tracked_posts(
        self,
        channel_id: ChannelId,
        ids: Collection[PostId] | None = None,
        *,
        since: datetime | None = None,
    ) -> Sequence[TrackedPost]:
        # Only the filters in use go into the statement: an "(x IS NULL OR ...)" filter
        # would keep the planner off the (channel, post) and (channel, date) indexes.
        filters = [sql.SQL("p.tg_channel_id = %(c)s AND p.deleted_at IS NULL")]
        if ids is not None:
            filters.append(sql.SQL("p.tg_post_id = ANY(%(ids)s::int8[])"))
        if since is not None:
            filters.append(sql.SQL("p.date_of_post >= %(since)s"))
        query = _TRACKED_POSTS.format(where=sql.SQL(" AND ").join(filters))
        async with self._conn.cursor() as cur:
            await cur.execute(
                query,
                {"c": channel_id, "ids": None if ids is None else list(ids), "since": since},
            )
            rows = await cur.fetchall()
        return [TrackedPost(PostId(r[0]), *r[1:]) for r in rows]

    async def album_post_ids(
        self, channel_id: ChannelId, grouped_ids: Collection[int]
    ) -> Sequence[PostId]:
        if not grouped_ids:
            return []
        rows = await self._fetchall(
            "SELECT tg_post_id FROM stat_post WHERE tg_channel_id = %(c)s"
            " AND grouped_id = ANY(%(g)s) AND deleted_at IS NULL ORDER BY tg_post_id",
            {"c": channel_id, "g": sorted(grouped_ids)},
        )
        return [PostId(r[0]) for r in rows]

    async def older_posts(
        self, channel_id: ChannelId, before: datetime, below_id: PostId | None, limit: int
    ) -> Sequence[PostId]:
        rows = await self._fetchall(
            """
            SELECT tg_post_id FROM stat_post
            WHERE tg_channel_id = %(c)s AND date_of_post < %(before)s AND deleted_at IS NULL
              AND (%(below)s::int8 IS NULL OR tg_post_id < %(below)s)
            ORDER BY tg_post_id DESC LIMIT %(limit)s
            """,
            {"c": channel_id, "before": before, "below": below_id, "limit": limit},
        )
        return [PostId(r[0]) for r in rows]

    async def set_rotation_cursor(self, channel_id: ChannelId, cursor: PostId | None) -> None:
        await self._execute(
            "UPDATE config__tg_channel SET refresh_cursor = %(v)s WHERE tg_channel_id = %(c)s",
            {"c": channel_id, "v": cursor},
        )

    async def rotation_cursor(self, channel_id: ChannelId) -> PostId | None:
        rows = await self._fetchall(
            "SELECT refresh_cursor FROM config__tg_channel WHERE tg_channel_id = %(c)s",
            {"c": channel_id},
        )
        if not rows:
            raise UnknownChannelError(f"channel {channel_id} is not configured")
        return None if rows[0][0] is None else PostId(rows[0][0])

    async def mark_deleted(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime
    ) -> None:
        self._require_transaction()
        if not ids:
            return
        await self._execute(
            # the first collection that found the post gone keeps its instant
            "UPDATE stat_post SET deleted_at = %(at)s WHERE tg_channel_id = %(c)s"
            " AND tg_post_id = ANY(%(ids)s::int8[]) AND deleted_at IS NULL",
            {"c": channel_id, "ids": list(ids), "at": at},
        )

    async def set_thread_unreadable(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime | None
    ) -> None:
        self._require_transaction()
        if not ids:
            return
        await self._execute(
            "UPDATE stat_post SET thread_unreadable_at = %(at)s WHERE tg_channel_id = %(c)s"
            " AND tg_post_id = ANY(%(ids)s::int8[])",
            {"c": channel_id, "ids": list(ids), "at": at},
        )


def _post_row(p: Post) -> tuple[Any, ...]:
    c = p.counters
    return (
        p.id,
        p.text,
        c.views,
        c.reactions_total,
        c.comments,
        p.link,
        p.media,
        p.date,
        c.forwards,
        p.has_discussion,
        p.grouped_id,
    )
