"""The CommentStore port: comments under posts and the aggregates derived from them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from tgstat.domain.horizons import CommentStats
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import Comment


class CommentStore(Protocol):
    """Comments of a channel's posts, keyed by (channel, post, comment id)."""

    async def add_comments(self, channel_id: ChannelId, comments: Sequence[Comment]) -> None:
        """Store comments keyed by (channel, post, comment id); duplicates are ignored."""
        ...

    async def comment_stats(
        self, channel_id: ChannelId, post_ids: Collection[PostId]
    ) -> Mapping[PostId, CommentStats]:
        """Aggregates over the stored comments of the given posts that have any."""
        ...

    async def set_comment_authors(
        self, channel_id: ChannelId, stats: Sequence[CommentStats]
    ) -> None:
        """Store distinct commenting users and channels of each post."""
        ...
