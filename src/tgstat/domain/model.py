"""Values tgstat collects and stores. All instants are aware UTC datetimes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, SessionPk, UserId


def _aware(_inst: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be timezone-aware, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


class ReactionKind(enum.StrEnum):
    EMOJI = "emoji"
    CUSTOM_EMOJI = "custom_emoji"
    PAID = "paid"


@attrs.frozen
class ReactionCount:
    """One reaction of a post and how many times it was given.

    ``key`` is the scenario/stat key: the emoji itself, ``custom:<document_id>`` or ``paid``.
    """

    kind: ReactionKind
    emoticon: str | None
    """The emoji for standard reactions, ``⭐`` for paid ones, None for custom emoji."""
    code: str
    """Stable identifier: emoji code points (``U+1F44D``), custom document id, or ``paid``."""
    count: int = attrs.field(validator=_non_negative)

    @classmethod
    def emoji(cls, emoticon: str, count: int) -> ReactionCount:
        code = "-".join(f"U+{ord(ch):04X}" for ch in emoticon)
        return cls(ReactionKind.EMOJI, emoticon, code, count)

    @classmethod
    def custom(cls, document_id: int, count: int) -> ReactionCount:
        return cls(ReactionKind.CUSTOM_EMOJI, None, str(document_id), count)

    @classmethod
    def paid(cls, count: int) -> ReactionCount:
        return cls(ReactionKind.PAID, "⭐", "paid", count)

    @property
    def key(self) -> str:
        if self.kind is ReactionKind.EMOJI:
            assert self.emoticon is not None
            return self.emoticon
        if self.kind is ReactionKind.CUSTOM_EMOJI:
            return f"custom:{self.code}"
        return "paid"


@attrs.frozen
class PostCounters:
    """A post's counters as Telegram reported them at ``taken_at``; None means unknown."""

    post_id: PostId
    taken_at: datetime = attrs.field(validator=_aware)
    views: int | None = attrs.field(default=None, validator=_non_negative)
    forwards: int | None = attrs.field(default=None, validator=_non_negative)
    reactions: tuple[ReactionCount, ...] | None = None
    """None: reactions unknown (not reported); empty: known to have none."""
    comments: int | None = attrs.field(default=None, validator=_non_negative)
    """Telegram's reply counter; None when the post has no discussion group."""

    @property
    def reactions_total(self) -> int | None:
        if self.reactions is None:
            return None
        return sum(r.count for r in self.reactions)

    def snapshot(self) -> CounterSnapshot:
        return CounterSnapshot(
            self.post_id,
            self.taken_at,
            self.views,
            self.forwards,
            self.reactions_total,
            self.comments,
        )


@attrs.frozen
class CounterSnapshot:
    """One point of a post's counter time series (``stat_post_snapshot``); None: unknown."""

    post_id: PostId
    taken_at: datetime = attrs.field(validator=_aware)
    views: int | None = attrs.field(default=None, validator=_non_negative)
    forwards: int | None = attrs.field(default=None, validator=_non_negative)
    reactions: int | None = attrs.field(default=None, validator=_non_negative)
    comments: int | None = attrs.field(default=None, validator=_non_negative)


@attrs.frozen
class Post:
    """A channel post: its fixed content plus the counters of its latest observation."""

    id: PostId
    date: datetime = attrs.field(validator=_aware)
    text: str | None
    media: str | None
    link: str
    counters: PostCounters
    has_discussion: bool
    grouped_id: int | None = None
    """Telegram's ``grouped_id``: shared by the messages of one album (one publication)."""


class AuthorKind(enum.StrEnum):
    """Who wrote a comment, from the message's ``from_id`` in the discussion group."""

    USER = "user"
    """A person or bot (``PeerUser``): counted in distinct commenting users."""
    CHANNEL = "channel"
    """A user posting as a channel (``PeerChannel`` other than the discussion group)."""
    ANONYMOUS = "anonymous"
    """An anonymous admin: Telegram gives the discussion group itself as the sender."""
    NONE = "none"
    """Telegram gave no sender at all (``from_id`` empty); ``author_id`` is None."""


@attrs.frozen
class Comment:
    """A comment in a post's discussion thread; tgstat keeps no comment text.

    Every comment counts in totals and horizons; only USER and CHANNEL authors count in
    the distinct-commenter figures.
    """

    id: CommentId
    post_id: PostId
    date: datetime = attrs.field(validator=_aware)
    author_kind: AuthorKind
    author_id: int | None


class MemberAction(enum.StrEnum):
    JOIN = "join"
    JOIN_BY_INVITE = "join_by_invite"
    JOIN_BY_REQUEST = "join_by_request"
    INVITE = "invite"
    """Added by an admin (Telethon's misleading ``joined_invite``)."""
    LEAVE = "leave"
    KICK = "kick"
    """Removed by an admin: a ban toggle whose new participant may no longer view the
    channel (banned from ``view_messages``) or is marked left."""

    @property
    def is_join(self) -> bool:
        return self not in (MemberAction.LEAVE, MemberAction.KICK)


@attrs.frozen
class InviteLink:
    """The invite link a join came through (``ChatInviteExported``)."""

    link: str | None
    """The link; None when the join came through a link the source does not name."""
    title: str | None = None
    via_chatlist: bool = False
    """Joined through a chat folder (chatlist) link: still a join by link."""


@attrs.frozen
class UserProfile:
    """A user's profile as an admin-log event showed it."""

    id: UserId
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    premium: bool | None = None
    scam: bool | None = None
    verified: bool | None = None
    phone: str | None = None
    bot: bool | None = None

    def updated_by(self, newer: UserProfile) -> UserProfile:
        """This profile with every field ``newer`` knows (not None) taken from it: an event
        whose user object Telegram left out changes nothing it does not know."""
        known = {
            f.name: getattr(newer, f.name)
            for f in attrs.fields(UserProfile)
            if getattr(newer, f.name) is not None
        }
        return attrs.evolve(self, **known)


@attrs.frozen
class MemberEvent:
    """A membership event of the channel's admin log."""

    id: EventId
    date: datetime = attrs.field(validator=_aware)
    action: MemberAction
    user: UserProfile
    invite: InviteLink | None = None
    """The link of a join by invite or by an approved request (None: none, or unknown)."""

    @property
    def is_by_link(self) -> bool:
        """Joined through an invite link: a join by invite, or an approved join request that
        came through a link (a request made through the public username did not)."""
        if self.action is MemberAction.JOIN_BY_INVITE:
            return True
        return self.action is MemberAction.JOIN_BY_REQUEST and self.invite is not None


@attrs.frozen
class Membership:
    """One membership episode of a user in a channel: one ``stat_user`` row.

    ``pk`` is None until the episode is stored.
    """

    channel_id: ChannelId
    user: UserProfile
    joined_at: datetime | None
    left_at: datetime | None
    is_joined_by_link: bool | None
    pk: int | None = None
    is_removed_by_admin: bool | None = None
    """True: an admin removed the subscriber (kick/ban); False: they left; None: open."""
    invite_link: str | None = None
    """The invite link of the join that opened the episode."""
    invite_link_title: str | None = None

    @property
    def is_open(self) -> bool:
        return self.left_at is None


@attrs.frozen
class SubscriberReading:
    """The channel's subscriber count (``participants_count`` of channels.getFullChannel)."""

    channel_id: ChannelId
    taken_at: datetime = attrs.field(validator=_aware)
    subscribers: int = attrs.field(validator=_non_negative)


NO_EVENT = EventId(0)
"""Cursor value before any admin-log event was applied."""


class SessionStatus(enum.StrEnum):
    ENABLED = "enabled"
    BANNED = "banned"


@attrs.frozen
class ChannelConfig:
    """A channel tgstat collects, with the session that collects it and its collection state."""

    channel_id: ChannelId
    name: str
    session_pk: SessionPk
    username: str | None = None
    admin_log_cursor: EventId = NO_EVENT
    """Highest admin-log event id already applied; the next read starts above it."""
    last_collected_at: datetime | None = None
    """The instant of the channel's last completed cycle (None: none yet). Later than a
    cycle's own instant only when a replay plays the past again into the same database."""


@attrs.frozen(repr=False)
class SealedSession:
    """A session pool row whose secrets are already encrypted (sealed) by the caller.

    The repository stores and returns the sealed bytes as they are: plaintext secrets never
    reach the database layer. ``repr`` names no secret.
    """

    phone_number: str
    api_id: int
    api_hash: bytes
    session_bytes: bytes | None
    bot_token: bytes | None = None
    status: SessionStatus = SessionStatus.ENABLED
    status_reason: str | None = None
    pk: SessionPk | None = None

    def __repr__(self) -> str:
        return (
            f"SealedSession(pk={self.pk}, phone=***{self.phone_number[-2:]}, status={self.status})"
        )
