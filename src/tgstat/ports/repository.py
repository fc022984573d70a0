"""The StatRepository port: where collected statistics and collection state are stored.

A ``StatSession`` is all the narrow stores (one port module each) on one connection, plus
the transaction that makes their writes visible together.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import ChannelId
from tgstat.ports.channel_store import ChannelStore
from tgstat.ports.comment_store import CommentStore
from tgstat.ports.followup_store import FollowUpStore
from tgstat.ports.membership_store import MembershipStore
from tgstat.ports.post_store import PostStore, TrackedPost
from tgstat.ports.session_store import SessionStore
from tgstat.ports.snapshot_store import SnapshotStore
from tgstat.ports.subscriber_store import SubscriberStore

__all__ = [
    "ChannelBusyError",
    "DatabaseUnavailableError",
    "RepositoryError",
    "StatRepository",
    "StatSession",
    "TrackedPost",
    "UnknownChannelError",
    "UnknownSessionError",
]


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


class StatSession(
    SessionStore,
    ChannelStore,
    PostStore,
    SnapshotStore,
    CommentStore,
    FollowUpStore,
    SubscriberStore,
    MembershipStore,
    Protocol,
):
    """Repository operations on one database connection.

    Writes become visible only when the enclosing ``transaction()`` commits: the service
    owns the transaction; the repository never commits on its own.
    """

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Commit on normal exit, roll back everything written inside on an exception."""
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
