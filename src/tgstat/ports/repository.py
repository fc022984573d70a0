"""The StatRepository port: where collected statistics and collection state are stored."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from tgstat.domain.errors import TgstatError
from tgstat.domain.horizons import CommentStats, HorizonValues
from tgstat.domain.ids import ChannelId, EventId, PostId, SessionPk, UserId
from tgstat.domain.model import (
    ChannelConfig,
    Comment,
    CounterSnapshot,
    Membership,
    Post,
    ReactionCount,
    SealedSession,
)
from tgstat.domain.planning import FollowUp


class RepositoryError(TgstatError):
    """Base of the errors the repository raises."""


class DatabaseUnavailableError(RepositoryError):
    """Raised when the database cannot be reached (the message names it without password)."""


class ChannelBusyError(RepositoryError):
    """Raised when another collection of the same channel holds its lock."""


class UnknownChannelError(RepositoryError):
    """Raised when a channel is not configured in ``config__tg_channel``."""


class UnknownSessionError(RepositoryError):
    """Raised when a session pool row does not exist."""


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


class StatSession(Protocol):
    """Repository operations on one database connection.

    Writes become visible only when the enclosing ``transaction()`` commits: the service
    owns the transaction; the repository never commits on its own.
    """

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Commit on normal exit, roll back everything written inside on an exception."""
        ...

    # -- configuration -------------------------------------------------------------
    async def upsert_session(self, session: SealedSession) -> SessionPk:
        """Insert or update the pool row keyed by phone number; return its pk."""
        ...

    async def get_session(self, pk: SessionPk) -> SealedSession:
        """Raise UnknownSessionError when absent."""
        ...

    async def enabled_sessions(self) -> Sequence[SealedSession]: ...

    async def mark_session_banned(self, pk: SessionPk, reason: str, at: datetime) -> None: ...

    async def store_session_file(self, pk: SessionPk, session_bytes: bytes) -> None:
        """Replace only the (sealed) session file of a pool row, leaving its status alone."""
        ...

    async def upsert_channel(self, channel: ChannelConfig) -> None:
        """Insert the channel, or update its name, username and session: never duplicates."""
        ...

    async def get_channel(self, channel_id: ChannelId) -> ChannelConfig:
        """Raise UnknownChannelError when absent."""
        ...

    async def list_channels(self) -> Sequence[ChannelConfig]: ...

    # -- posts -------------------------------------------------------------------
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

    async def add_snapshots(
        self, channel_id: ChannelId, snapshots: Sequence[CounterSnapshot]
    ) -> None:
        """Store counter observations; the same (post, taken_at) twice is stored once."""
        ...

    async def replace_reactions(
        self,
        channel_id: ChannelId,
        reactions: Mapping[PostId, Sequence[ReactionCount]],
        at: datetime,
    ) -> None:
        """Make each given post's ``stat_reaction`` rows exactly the given reactions."""
        ...

    async def tracked_posts(
        self,
        channel_id: ChannelId,
        ids: Collection[PostId] | None = None,
        *,
        since: datetime | None = None,
    ) -> Sequence[TrackedPost]:
        """Stored posts by id and/or published at or after ``since``, ascending by id."""
        ...

    async def older_posts(
        self, channel_id: ChannelId, before: datetime, below_id: PostId | None, limit: int
    ) -> Sequence[PostId]:
        """Ids of posts published before ``before`` and below ``below_id``, descending."""
        ...

    async def set_rotation_cursor(self, channel_id: ChannelId, cursor: PostId | None) -> None:
        """Remember where the next slice of older posts starts."""
        ...

    async def rotation_cursor(self, channel_id: ChannelId) -> PostId | None: ...

    async def snapshots_near(
        self,
        channel_id: ChannelId,
        instants: Sequence[tuple[PostId, datetime]],
        tolerance: timedelta,
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        """Snapshots of each given post taken within ``tolerance`` of its instant."""
        ...

    async def set_horizon_values(
        self, channel_id: ChannelId, values: Sequence[HorizonValues]
    ) -> None: ...

    # -- comments ----------------------------------------------------------------
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

    # -- follow-ups --------------------------------------------------------------
    async def add_followups(self, followups: Sequence[FollowUp]) -> None:
        """Record follow-ups to schedule; one already recorded is left as it is."""
        ...

    async def pending_followups(self, channel_id: ChannelId, now: datetime) -> Sequence[FollowUp]:
        """Follow-ups due after ``now`` that the scheduler has not accepted yet."""
        ...

    async def mark_followup_scheduled(self, followup: FollowUp, at: datetime) -> None: ...

    # -- membership --------------------------------------------------------------
    async def latest_memberships(
        self, channel_id: ChannelId, user_ids: Collection[UserId]
    ) -> Mapping[UserId, Membership]:
        """The latest episode of each given user that has one."""
        ...

    async def save_memberships(
        self, channel_id: ChannelId, episodes: Sequence[Membership], at: datetime
    ) -> None:
        """Update episodes with a pk, insert those without; ``timestamp`` becomes ``at``."""
        ...

    async def advance_admin_log_cursor(self, channel_id: ChannelId, cursor: EventId) -> None:
        """Move the cursor forward; a lower value than the stored one is ignored."""
        ...


class StatRepository(Protocol):
    """Opens sessions on the statistics database."""

    def session(self) -> AbstractAsyncContextManager[StatSession]:
        """A session on one pooled connection, returned to the pool on exit."""
        ...

    def channel_session(self, channel_id: ChannelId) -> AbstractAsyncContextManager[StatSession]:
        """A session that holds the channel's collection lock until exit.

        Raises ChannelBusyError at once when another session holds it: two collections of
        one channel never overlap, across processes and machines sharing the database.
        """
        ...
