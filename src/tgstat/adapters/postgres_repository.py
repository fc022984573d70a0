"""PostgresStatRepository: the StatRepository port over psycopg 3 and an async pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from tgstat.domain.horizons import CommentStats, Horizon, HorizonValues
from tgstat.domain.ids import ChannelId, EventId, PostId, SessionPk, UserId
from tgstat.domain.model import (
    ChannelConfig,
    Comment,
    CounterSnapshot,
    Membership,
    Post,
    ReactionCount,
    SealedSession,
    SessionStatus,
    UserProfile,
)
from tgstat.domain.planning import FollowUp
from tgstat.ports.repository import (
    ChannelBusyError,
    StatRepository,
    StatSession,
    TrackedPost,
    UnknownChannelError,
    UnknownSessionError,
)

Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]

# Advisory-lock keys are one bigint: a tgstat namespace in the top 16 bits, the channel id
# (< 2**48) below, so tgstat's locks do not collide with other users of advisory locks.
_LOCK_NAMESPACE = 0x7467 << 48


def channel_lock_key(channel_id: ChannelId) -> int:
    """The advisory-lock key of a channel's collection lock."""
    return _LOCK_NAMESPACE | channel_id


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
)
_SNAPSHOT_IN_COLUMNS = (
    ("tg_post_id", "int8"),
    ("taken_at", "timestamptz"),
    ("views", "int8"),
    ("forwards", "int8"),
    ("reactions_count", "int8"),
    ("comments_count", "int8"),
)
_COMMENT_IN_COLUMNS = (
    ("tg_post_id", "int8"),
    ("tg_comment_id", "int8"),
    ("date_of_comment", "timestamptz"),
    ("author_kind", "text"),
    ("author_id", "int8"),
)

_POST_COLUMNS = (("timestamp", "timestamptz"), ("tg_channel_id", "int8"), *_POST_IN_COLUMNS)
_SNAPSHOT_COLUMNS = (("tg_channel_id", "int8"), *_SNAPSHOT_IN_COLUMNS)

_TRACKED_POSTS = sql.SQL("""
SELECT p.tg_post_id, p.date_of_post, p.comments_messages_count,
       (SELECT max(c.tg_comment_id) FROM stat_comment c
        WHERE c.tg_channel_id = p.tg_channel_id AND c.tg_post_id = p.tg_post_id),
       p.has_discussion
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
    has_discussion = s.has_discussion
FROM tgstat_post_in AS s
WHERE p.tg_channel_id = %(channel)s AND p.tg_post_id = s.tg_post_id
"""

# A cycle's snapshots share one taken_at, and the key leads with it: normally this finds
# nothing at all, cheaply.
_EXISTING_SNAPSHOTS = """
SELECT tg_post_id, taken_at FROM stat_post_snapshot
WHERE tg_channel_id = %(channel)s AND taken_at = ANY(%(times)s)
"""

_INSERT_COMMENTS = """
INSERT INTO stat_comment (
    tg_channel_id, tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id)
SELECT %(channel)s, tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id
FROM tgstat_comment_in
ON CONFLICT (tg_channel_id, tg_post_id, tg_comment_id) DO NOTHING
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

_SET_HORIZONS = """
UPDATE stat_post SET
    views_1h = COALESCE(%(views_1h)s, views_1h),
    views_24h = COALESCE(%(views_24h)s, views_24h),
    reactions_1h = COALESCE(%(reactions_1h)s, reactions_1h),
    reactions_24h = COALESCE(%(reactions_24h)s, reactions_24h),
    comments_messages_count_1h = COALESCE(%(comments_1h)s, comments_messages_count_1h),
    comments_messages_count_24h = COALESCE(%(comments_24h)s, comments_messages_count_24h)
WHERE tg_channel_id = %(channel)s AND tg_post_id = %(post_id)s
"""

_COMMENT_STATS = """
SELECT c.tg_post_id,
       count(DISTINCT c.author_id) FILTER (WHERE c.author_kind = 'user'),
       count(DISTINCT c.author_id) FILTER (WHERE c.author_kind = 'channel'),
       count(*) FILTER (WHERE c.date_of_comment <= p.date_of_post + interval '1 hour'),
       count(*) FILTER (WHERE c.date_of_comment <= p.date_of_post + interval '24 hours')
FROM stat_comment c
JOIN stat_post p USING (tg_channel_id, tg_post_id)
WHERE c.tg_channel_id = %(channel)s AND c.tg_post_id = ANY(%(posts)s)
GROUP BY c.tg_post_id
"""

_SELECT_SESSIONS = """
SELECT id, phone_number, api_id, api_hash, session_bytes, bot_token, status, status_reason
FROM config__tg_bot_session_pool
WHERE (%(pk)s::int8 IS NULL OR id = %(pk)s) AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY id
"""

_SELECT_CHANNELS = """
SELECT tg_channel_id, tg_channel_name, session_pool_id, tg_channel_username, admin_log_cursor
FROM config__tg_channel
WHERE %(c)s::int8 IS NULL OR tg_channel_id = %(c)s
ORDER BY tg_channel_id
"""

_UPDATE_MEMBERSHIP = """
UPDATE stat_user SET first_name = %(first_name)s,
    last_name = %(last_name)s, user_name = %(user_name)s,
    premium = %(premium)s, scam = %(scam)s, verified = %(verified)s,
    phone = %(phone)s, "timestamp" = %(at)s, joined_at = %(joined_at)s,
    left_at = %(left_at)s, is_joined_by_link = %(by_link)s
WHERE id = %(pk)s AND tg_channel_id = %(channel)s
"""

_INSERT_MEMBERSHIP = """
INSERT INTO stat_user (
    tg_user_id, tg_channel_id, first_name, last_name, user_name, premium,
    scam, verified, phone, "timestamp", joined_at, left_at, is_joined_by_link)
VALUES (%(user_id)s, %(channel)s, %(first_name)s, %(last_name)s,
    %(user_name)s, %(premium)s, %(scam)s, %(verified)s, %(phone)s, %(at)s,
    %(joined_at)s, %(left_at)s, %(by_link)s)
"""

_LATEST_MEMBERSHIPS = """
SELECT DISTINCT ON (tg_user_id)
       id, tg_user_id, first_name, last_name, user_name, premium, scam, verified, phone,
       joined_at, left_at, is_joined_by_link
FROM stat_user
WHERE tg_channel_id = %(c)s AND tg_user_id = ANY(%(users)s)
ORDER BY tg_user_id, "timestamp" DESC, id DESC
"""


class PostgresStatSession(StatSession):
    """StatSession on one psycopg connection (autocommit outside ``transaction()``)."""

    def __init__(self, conn: AsyncConnection[TupleRow]) -> None:
        self._conn = conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield

    def _require_transaction(self) -> None:
        # Writes outside the service's transaction would autocommit piecemeal.
        if self._conn.info.transaction_status is TransactionStatus.IDLE:
            raise RuntimeError("repository writes must run inside session.transaction()")

    async def _fetchall(self, query: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        async with self._conn.cursor() as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def _execute(self, query: str, params: Mapping[str, Any]) -> None:
        self._require_transaction()
        await self._conn.execute(query, params)

    async def _executemany(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        """One statement for many parameter sets (psycopg pipelines them)."""
        self._require_transaction()
        if params:
            async with self._conn.cursor() as cur:
                await cur.executemany(query, params)

    async def _copy_rows(
        self,
        table: sql.Composable,
        columns: Sequence[tuple[str, str]],
        rows: Iterable[Sequence[Any]],
        cur: AsyncCursor[TupleRow],
    ) -> None:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
        )
        async with cur.copy(copy_sql) as copy:
            copy.set_types([pgtype for _, pgtype in columns])
            for row in rows:
                await copy.write_row(row)

    async def _copy_new(
        self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
    ) -> None:
        """COPY rows the caller checked to be new straight into ``table``.

        COPY inserts in batches and is ~3x faster than INSERT ... SELECT; a row that
        appeared meanwhile (only possible without the channel lock) fails the transaction
        with a unique violation rather than duplicating anything.
        """
        self._require_transaction()
        async with self._conn.cursor() as cur:
            await self._copy_rows(sql.Identifier(table), columns, rows, cur)

    async def _copy_in(
        self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Load rows into an empty session-temporary staging table with binary COPY."""
        self._require_transaction()
        ident = sql.Identifier(table)
        ddl = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            ident,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pgtype))
                for name, pgtype in columns
            ),
        )
        async with self._conn.cursor() as cur:
            await cur.execute(ddl)
            await cur.execute(sql.SQL("TRUNCATE {}").format(ident))
            await self._copy_rows(ident, columns, rows, cur)

    # -- configuration -------------------------------------------------------------
    async def upsert_session(self, session: SealedSession) -> SessionPk:
        self._require_transaction()
        rows = await self._fetchall(
            """
            INSERT INTO config__tg_bot_session_pool (
                phone_number, api_id, api_hash, session_bytes, bot_token, status,
                status_reason, status_changed_at)
            VALUES (%(phone)s, %(api_id)s, %(api_hash)s, %(session)s, %(bot)s, %(status)s,
                    %(reason)s, CASE WHEN %(status)s = 'enabled' THEN NULL ELSE now() END)
            ON CONFLICT (phone_number) DO UPDATE SET
                api_id = EXCLUDED.api_id, api_hash = EXCLUDED.api_hash,
                session_bytes = EXCLUDED.session_bytes, bot_token = EXCLUDED.bot_token,
                status = EXCLUDED.status, status_reason = EXCLUDED.status_reason,
                status_changed_at = CASE
                    WHEN config__tg_bot_session_pool.status = EXCLUDED.status
                    THEN config__tg_bot_session_pool.status_changed_at ELSE now() END,
                updated_at = now()
            RETURNING id
            """,
            {
                "phone": session.phone_number,
                "api_id": session.api_id,
                "api_hash": session.api_hash,
                "session": session.session_bytes,
                "bot": session.bot_token,
                "status": session.status.value,
                "reason": session.status_reason,
            },
        )
        return SessionPk(rows[0][0])

    async def get_session(self, pk: SessionPk) -> SealedSession:
        rows = await self._fetchall(_SELECT_SESSIONS, {"pk": pk, "status": None})
        if not rows:
            raise UnknownSessionError(f"no session pool row with id {pk}")
        return _to_session(rows[0])

    async def enabled_sessions(self) -> Sequence[SealedSession]:
        rows = await self._fetchall(
            _SELECT_SESSIONS, {"pk": None, "status": SessionStatus.ENABLED.value}
        )
        return [_to_session(row) for row in rows]

    async def mark_session_banned(self, pk: SessionPk, reason: str, at: datetime) -> None:
        self._require_transaction()
        async with self._conn.cursor() as cur:
            await cur.execute(
                "UPDATE config__tg_bot_session_pool SET status = 'banned',"
                " status_reason = %(reason)s, status_changed_at = %(at)s, updated_at = now()"
                " WHERE id = %(pk)s",
                {"pk": pk, "reason": reason, "at": at},
            )
            if cur.rowcount == 0:
                raise UnknownSessionError(f"no session pool row with id {pk}")

    async def store_session_file(self, pk: SessionPk, session_bytes: bytes) -> None:
        await self._execute(
            "UPDATE config__tg_bot_session_pool SET session_bytes = %(b)s, updated_at = now()"
            " WHERE id = %(pk)s",
            {"pk": pk, "b": session_bytes},
        )

    async def upsert_channel(self, channel: ChannelConfig) -> None:
        await self._execute(
            """
            INSERT INTO config__tg_channel (
                tg_channel_id, tg_channel_name, tg_channel_username, session_pool_id)
            VALUES (%(channel)s, %(name)s, %(username)s, %(session)s)
            ON CONFLICT (tg_channel_id) DO UPDATE SET
                tg_channel_name = EXCLUDED.tg_channel_name,
                tg_channel_username = EXCLUDED.tg_channel_username,
                session_pool_id = EXCLUDED.session_pool_id,
                updated_at = now()
            """,
            {
                "channel": channel.channel_id,
                "name": channel.name,
                "username": channel.username,
                "session": channel.session_pk,
            },
        )

    async def get_channel(self, channel_id: ChannelId) -> ChannelConfig:
        rows = await self._fetchall(_SELECT_CHANNELS, {"c": channel_id})
        if not rows:
            raise UnknownChannelError(f"channel {channel_id} is not configured")
        return _to_channel(rows[0])

    async def list_channels(self) -> Sequence[ChannelConfig]:
        rows = await self._fetchall(_SELECT_CHANNELS, {"c": None})
        return [_to_channel(row) for row in rows]

    # -- posts -------------------------------------------------------------------
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

    async def add_snapshots(
        self, channel_id: ChannelId, snapshots: Sequence[CounterSnapshot]
    ) -> None:
        if not snapshots:
            return
        rows = await self._fetchall(
            _EXISTING_SNAPSHOTS,
            {"channel": channel_id, "times": sorted({s.taken_at for s in snapshots})},
        )
        stored = {(r[0], r[1]) for r in rows}
        await self._copy_new(
            "stat_post_snapshot",
            _SNAPSHOT_COLUMNS,
            (
                (channel_id, s.post_id, s.taken_at, s.views, s.forwards, s.reactions, s.comments)
                for s in {(s.post_id, s.taken_at): s for s in snapshots}.values()
                if (s.post_id, s.taken_at) not in stored
            ),
        )

    async def replace_reactions(
        self,
        channel_id: ChannelId,
        reactions: Mapping[PostId, Sequence[ReactionCount]],
        at: datetime,
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
        filters = [sql.SQL("p.tg_channel_id = %(c)s")]
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
        return [TrackedPost(PostId(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    async def older_posts(
        self, channel_id: ChannelId, before: datetime, below_id: PostId | None, limit: int
    ) -> Sequence[PostId]:
        rows = await self._fetchall(
            """
            SELECT tg_post_id FROM stat_post
            WHERE tg_channel_id = %(c)s AND date_of_post < %(before)s
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

    async def snapshots_near(
        self,
        channel_id: ChannelId,
        instants: Sequence[tuple[PostId, datetime]],
        tolerance: timedelta,
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        if not instants:
            return {}
        rows = await self._fetchall(
            """
            SELECT s.tg_post_id, s.taken_at, s.views, s.forwards, s.reactions_count,
                   s.comments_count
            FROM unnest(%(posts)s::int8[], %(instants)s::timestamptz[]) AS n(post, instant)
            JOIN stat_post_snapshot s
              ON s.tg_channel_id = %(c)s AND s.tg_post_id = n.post
             AND s.taken_at BETWEEN n.instant - %(tol)s AND n.instant + %(tol)s
            ORDER BY s.tg_post_id, s.taken_at
            """,
            {
                "c": channel_id,
                "posts": [p for p, _ in instants],
                "instants": [t for _, t in instants],
                "tol": tolerance,
            },
        )
        found: dict[PostId, list[CounterSnapshot]] = {}
        for r in rows:
            pid = PostId(r[0])
            snap = CounterSnapshot(pid, r[1], r[2], r[3], r[4], r[5])
            bucket = found.setdefault(pid, [])
            if not bucket or bucket[-1] != snap:  # two instants of one post may overlap
                bucket.append(snap)
        return found

    async def set_horizon_values(
        self, channel_id: ChannelId, values: Sequence[HorizonValues]
    ) -> None:
        if not values:
            return
        await self._executemany(
            _SET_HORIZONS,
            [
                {
                    "channel": channel_id,
                    "post_id": v.post_id,
                    "views_1h": v.views_1h,
                    "views_24h": v.views_24h,
                    "reactions_1h": v.reactions_1h,
                    "reactions_24h": v.reactions_24h,
                    "comments_1h": v.comments_1h,
                    "comments_24h": v.comments_24h,
                }
                for v in values
            ],
        )

    # -- comments ----------------------------------------------------------------
    async def add_comments(self, channel_id: ChannelId, comments: Sequence[Comment]) -> None:
        if not comments:
            return
        await self._copy_in(
            "tgstat_comment_in",
            _COMMENT_IN_COLUMNS,
            [(c.post_id, c.id, c.date, c.author_kind.value, c.author_id) for c in comments],
        )
        await self._execute(_INSERT_COMMENTS, {"channel": channel_id})

    async def comment_stats(
        self, channel_id: ChannelId, post_ids: Collection[PostId]
    ) -> Mapping[PostId, CommentStats]:
        rows = await self._fetchall(
            _COMMENT_STATS, {"channel": channel_id, "posts": list(post_ids)}
        )
        return {PostId(r[0]): CommentStats(PostId(r[0]), r[1], r[2], r[3], r[4]) for r in rows}

    async def set_comment_authors(
        self, channel_id: ChannelId, stats: Sequence[CommentStats]
    ) -> None:
        if not stats:
            return
        await self._executemany(
            "UPDATE stat_post SET comments_users_count = %(users)s,"
            " comments_channels_count = %(channels)s"
            " WHERE tg_channel_id = %(c)s AND tg_post_id = %(p)s",
            [
                {"c": channel_id, "p": st.post_id, "users": st.users, "channels": st.channels}
                for st in stats
            ],
        )

    # -- follow-ups --------------------------------------------------------------
    async def add_followups(self, followups: Sequence[FollowUp]) -> None:
        if not followups:
            return
        await self._executemany(
            "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at)"
            " VALUES (%(c)s, %(p)s, %(h)s, %(due)s)"
            " ON CONFLICT (tg_channel_id, tg_post_id, horizon_s) DO NOTHING",
            [_followup_params(f) for f in followups],
        )

    async def pending_followups(self, channel_id: ChannelId, now: datetime) -> Sequence[FollowUp]:
        rows = await self._fetchall(
            """
            SELECT tg_post_id, horizon_s, due_at FROM stat_followup
            WHERE tg_channel_id = %(c)s AND scheduled_at IS NULL AND due_at > %(now)s
            ORDER BY due_at, tg_post_id, horizon_s
            """,
            {"c": channel_id, "now": now},
        )
        return [
            FollowUp(channel_id, PostId(r[0]), Horizon(timedelta(seconds=r[1])), r[2]) for r in rows
        ]

    async def mark_followup_scheduled(self, followup: FollowUp, at: datetime) -> None:
        await self._execute(
            "UPDATE stat_followup SET scheduled_at = %(at)s"
            " WHERE tg_channel_id = %(c)s AND tg_post_id = %(p)s AND horizon_s = %(h)s",
            {**_followup_params(followup), "at": at},
        )

    # -- membership --------------------------------------------------------------
    async def latest_memberships(
        self, channel_id: ChannelId, user_ids: Collection[UserId]
    ) -> Mapping[UserId, Membership]:
        rows = await self._fetchall(_LATEST_MEMBERSHIPS, {"c": channel_id, "users": list(user_ids)})
        return {UserId(r[1]): _to_membership(channel_id, r) for r in rows}

    async def save_memberships(
        self, channel_id: ChannelId, episodes: Sequence[Membership], at: datetime
    ) -> None:
        updates = [_membership_params(channel_id, e, at) for e in episodes if e.pk is not None]
        inserts = [_membership_params(channel_id, e, at) for e in episodes if e.pk is None]
        # Close episodes before opening new ones: at most one open episode per user.
        await self._executemany(_UPDATE_MEMBERSHIP, updates)
        await self._executemany(_INSERT_MEMBERSHIP, inserts)

    async def advance_admin_log_cursor(self, channel_id: ChannelId, cursor: EventId) -> None:
        await self._execute(
            "UPDATE config__tg_channel SET admin_log_cursor = GREATEST(admin_log_cursor, %(v)s),"
            " updated_at = now() WHERE tg_channel_id = %(c)s",
            {"c": channel_id, "v": cursor},
        )


class PostgresStatRepository(StatRepository):
    """StatRepository over an open psycopg ``AsyncConnectionPool`` owned by the caller.

    The pool's connections must be in autocommit mode (``kwargs={"autocommit": True}``):
    transactions are opened explicitly by ``StatSession.transaction()``.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[StatSession]:
        async with self._pool.connection() as conn:
            yield PostgresStatSession(conn)

    @asynccontextmanager
    async def channel_session(self, channel_id: ChannelId) -> AsyncIterator[StatSession]:
        key = channel_lock_key(channel_id)
        async with self._pool.connection() as conn:
            # A session-level lock survives the cycle's several commits; the server drops
            # it by itself if this connection dies.
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            row = await cur.fetchone()
            if row is None or not row[0]:
                raise ChannelBusyError(f"channel {channel_id} is being collected by another run")
            try:
                yield PostgresStatSession(conn)
            finally:
                if not conn.closed and conn.info.transaction_status is TransactionStatus.IDLE:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                else:
                    # Broken or mid-transaction: closing drops the lock with the backend.
                    await conn.close()


def _followup_params(f: FollowUp) -> dict[str, Any]:
    return {
        "c": f.channel_id,
        "p": f.post_id,
        "h": int(f.horizon.value.total_seconds()),
        "due": f.due_at,
    }


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
    )


def _to_session(row: Sequence[Any]) -> SealedSession:
    pk, phone, api_id, api_hash, session_bytes, bot_token, status, reason = row
    return SealedSession(
        phone_number=phone,
        api_id=api_id,
        api_hash=bytes(api_hash),
        session_bytes=None if session_bytes is None else bytes(session_bytes),
        bot_token=None if bot_token is None else bytes(bot_token),
        status=SessionStatus(status),
        status_reason=reason,
        pk=SessionPk(pk),
    )


def _to_channel(row: Sequence[Any]) -> ChannelConfig:
    channel_id, name, session_pk, username, cursor = row
    return ChannelConfig(
        channel_id=ChannelId(channel_id),
        name=name,
        session_pk=SessionPk(session_pk),
        username=username,
        admin_log_cursor=EventId(cursor),
    )


def _to_membership(channel_id: ChannelId, row: Sequence[Any]) -> Membership:
    (
        pk,
        user_id,
        first,
        last,
        username,
        premium,
        scam,
        verified,
        phone,
        joined_at,
        left_at,
        by_link,
    ) = row
    return Membership(
        channel_id=channel_id,
        user=UserProfile(UserId(user_id), first, last, username, premium, scam, verified, phone),
        joined_at=joined_at,
        left_at=left_at,
        is_joined_by_link=by_link,
        pk=pk,
    )


def _membership_params(channel_id: ChannelId, e: Membership, at: datetime) -> dict[str, Any]:
    return {
        "pk": e.pk,
        "channel": channel_id,
        "user_id": e.user.id,
        "first_name": e.user.first_name,
        "last_name": e.user.last_name,
        "user_name": e.user.username,
        "premium": e.user.premium,
        "scam": e.user.scam,
        "verified": e.user.verified,
        "phone": e.user.phone,
        "at": at,
        "joined_at": e.joined_at,
        "left_at": e.left_at,
        "by_link": e.is_joined_by_link,
    }
