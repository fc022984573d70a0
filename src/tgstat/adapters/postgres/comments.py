"""Comments under posts and their per-post aggregates: the CommentStore port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.horizons import CommentStats
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import Comment
from tgstat.ports.comment_store import CommentStore

_COMMENT_IN_COLUMNS = (
    ("tg_post_id", "int8"),
    ("tg_comment_id", "int8"),
    ("date_of_comment", "timestamptz"),
    ("author_kind", "text"),
    ("author_id", "int8"),
)

_INSERT_COMMENTS = """
INSERT INTO stat_comment (
    tg_channel_id, tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id)
SELECT %(channel)s, tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id
FROM tgstat_comment_in
ON CONFLICT (tg_channel_id, tg_post_id, tg_comment_id) DO NOTHING
"""

# Every comment counts in the windows; only people and channels are distinct commenters
# (an anonymous admin's sender is the discussion group itself, and 'none' has no sender).
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


class PostgresCommentStore(PostgresConnection, CommentStore):
    """CommentStore over ``stat_comment`` and the comment-author columns of ``stat_post``."""

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
