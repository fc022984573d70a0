"""Small builders of domain values for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tgstat.domain.ids import ChannelId, PostId, SessionPk, UserId
from tgstat.domain.model import (
    ChannelConfig,
    Post,
    PostCounters,
    ReactionCount,
    SealedSession,
    UserProfile,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHANNEL = ChannelId(1777000001)


def at(minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours)


def sealed_session(phone: str = "+10000000001") -> SealedSession:
    return SealedSession(
        phone_number=phone, api_id=12345, api_hash=b"sealed-hash", session_bytes=b"sealed"
    )


def channel(
    session_pk: SessionPk, channel_id: ChannelId = CHANNEL, name: str = "Demo"
) -> ChannelConfig:
    return ChannelConfig(channel_id=channel_id, name=name, session_pk=session_pk, username="demo")


def post(
    post_id: int,
    *,
    views: int | None = 10,
    taken_at: datetime | None = None,
    reactions: tuple[ReactionCount, ...] | None = (),
    comments: int | None = 0,
    date: datetime | None = None,
) -> Post:
    pid = PostId(post_id)
    date = date or at(minutes=post_id)
    return Post(
        id=pid,
        date=date,
        text=f"post {post_id}",
        media=None,
        link=f"https://t.me/demo/{post_id}",
        counters=PostCounters(
            pid, taken_at or date, views=views, forwards=1, reactions=reactions, comments=comments
        ),
        has_discussion=comments is not None,
    )


def user(user_id: int, username: str | None = None) -> UserProfile:
    return UserProfile(UserId(user_id), first_name=f"U{user_id}", username=username)
