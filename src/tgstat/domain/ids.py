"""Telegram identifiers as distinct types, so a post id is never passed as a channel id."""

from typing import NewType

ChannelId = NewType("ChannelId", int)
"""Bare positive channel id, as in ``t.me/c/<id>/<post>``."""
PostId = NewType("PostId", int)
CommentId = NewType("CommentId", int)
UserId = NewType("UserId", int)
EventId = NewType("EventId", int)
"""Admin-log event id: increases with time within a channel."""
SessionPk = NewType("SessionPk", int)
"""Primary key of a ``config__tg_bot_session_pool`` row."""
