"""The TelegramGateway port: what tgstat reads from Telegram, in domain types only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import Comment, MemberEvent, Post


class GatewayError(TgstatError):
    """Base of the errors a TelegramGateway raises."""


class RateLimitedError(GatewayError):
    """Raised when Telegram asks to wait (FloodWait) longer than the client sleeps itself."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds Telegram asked to wait before the next request."""


class DisconnectedError(GatewayError):
    """Raised when the connection to Telegram dropped; a retry may succeed."""


class SessionBannedError(GatewayError):
    """Raised when Telegram rejects the session for good (banned, revoked, deactivated)."""


class ChannelNotFoundError(GatewayError):
    """Raised when no channel of the account matches; the message lists close titles."""


class ChannelAmbiguousError(GatewayError):
    """Raised when several channels match a title; the message lists them with ids."""


class ChannelForbiddenError(GatewayError):
    """Raised when the account may not read the channel (private, or not an admin)."""


class NoDiscussionError(GatewayError):
    """Raised when comments are asked of a post without a discussion group."""


class ThreadUnreadableError(GatewayError):
    """Raised when a post reports comments but its thread cannot be read (Telegram answers
    ``MSG_ID_INVALID``: the discussion copy is gone or moved)."""


class SubscriberCountUnknownError(GatewayError):
    """Raised when channels.getFullChannel answers without ``participants_count``."""


@attrs.frozen
class PostsRead:
    """The answer to a read of posts by id."""

    posts: tuple[Post, ...]
    deleted: frozenset[PostId] = frozenset()
    """Ids Telegram answered empty for (``MessageEmpty``): the post was deleted."""


@attrs.frozen
class ChannelInfo:
    """A channel as the account sees it."""

    id: ChannelId
    title: str
    username: str | None


class TelegramGateway(Protocol):
    """Reads one account's view of Telegram. Every method may raise RateLimitedError,
    DisconnectedError, SessionBannedError or ChannelForbiddenError."""

    async def resolve_channel(self, query: str) -> ChannelInfo:
        """A channel by exact dialog title, ``@username`` or numeric id.

        Raises ChannelNotFoundError or ChannelAmbiguousError.
        """
        ...

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        """Posts with an id above ``after`` (all when None), ascending; no service messages."""
        ...

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        """The current state of the given posts (at most 100 ids, channels.getMessages) and
        which of them were deleted."""
        ...

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        """Comments of a post above ``after``, ascending (messages.getReplies).

        Raises NoDiscussionError (no discussion group) or ThreadUnreadableError.
        """
        ...

    async def fetch_subscriber_count(self, channel_id: ChannelId) -> int:
        """The channel's subscriber count: ``participants_count`` of
        channels.getFullChannel (request kind ``channel``)."""
        ...

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        """Admin-log membership events above ``after``, ascending by id."""
        ...

    def request_counts(self) -> Mapping[str, int]:
        """Telegram requests made so far, by kind (posts, counters, comments, admin_log,
        channel)."""
        ...
