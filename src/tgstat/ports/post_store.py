"""The PostStore port: posts, their reactions and the refresh rotation cursor."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import Post, ReactionCount


@attrs.frozen
class TrackedPost:
    """A stored post as the collector needs it to plan a refresh."""

    id: PostId
    date: datetime
    comments: int | None
    """Comment count at the last collection (None: unknown or no discussion)."""
    last_comment_id: int | None
    """Highest stored comment id of the post; comments are read from above it."""
    has_discussion: bool
    thread_unreadable_at: datetime | None = None
    """When reading the comment thread last failed (None: readable, or never tried)."""
    views: int | None = None
    """Views at the last collection (``stat_post.views``; None: never reported)."""
    forwards: int | None = None
    """Forwards at the last collection (``stat_post.forwards``)."""
    reactions: int | None = None
    """Reactions in all at the last collection (``stat_post.total_reactions_count``)."""
    read_at: datetime | None = None
    """When the post was last read (``stat_post.timestamp``)."""


class PostStore(Protocol):
    """Posts of a channel (latest counters), their reactions and the rotation cursor."""

    async def max_post_id(self, channel_id: ChannelId) -> PostId | None:
        """Highest stored post id of the channel, None when it has no posts yet."""
        ...

    async def upsert_posts(
        self, channel_id: ChannelId, posts: Sequence[Post], at: datetime
    ) -> None:
        """Insert or update ``stat_post`` rows keyed by (channel, post id), stamped ``at``.

        Horizon columns are left as they are (see ``set_horizon_values``). A None counter
        does not overwrite a known stored value.
        """
        ...

    async def replace_reactions(
        self,
        channel_id: ChannelId,
        reactions: Mapping[PostId, Sequence[ReactionCount]],
        at: datetime,
        *,
        keep_absent: bool = False,
    ) -> None:
        """Make each given post's ``stat_reaction`` rows exactly the given reactions; with
        ``keep_absent``, only insert or update them and keep the post's other rows (a
        replay of the past: those rows are of a later instant, which settles them)."""
        ...

    async def tracked_posts(
        self,
        channel_id: ChannelId,
        ids: Collection[PostId] | None = None,
        *,
        since: datetime | None = None,
    ) -> Sequence[TrackedPost]:
        """Stored posts by id and/or published at or after ``since``, ascending by id;
        deleted posts (``deleted_at`` set) are left out."""
        ...

    async def album_post_ids(
        self, channel_id: ChannelId, grouped_ids: Collection[int]
    ) -> Sequence[PostId]:
        """Ids of the live (not deleted) messages of the given albums (``grouped_id``),
        ascending: a follow-up recorded under an album's first message measures them all."""
        ...

    async def older_posts(
        self, channel_id: ChannelId, before: datetime, below_id: PostId | None, limit: int
    ) -> Sequence[PostId]:
        """Ids of posts published before ``before`` and below ``below_id``, descending;
        deleted posts are left out."""
        ...

    async def set_rotation_cursor(self, channel_id: ChannelId, cursor: PostId | None) -> None:
        """Remember where the next slice of older posts starts."""
        ...

    async def rotation_cursor(self, channel_id: ChannelId) -> PostId | None: ...

    async def mark_deleted(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime
    ) -> None:
        """Set ``deleted_at`` of the given posts to ``at`` where it is not set yet; their
        counters stay as they were."""
        ...

    async def set_thread_unreadable(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime | None
    ) -> None:
        """Record that reading the given posts' threads failed at ``at`` (None: clear)."""
        ...
