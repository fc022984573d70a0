"""Telethon TL objects -> domain values. Each mapper names every constructor its field can
hold and what becomes of it; a constructor not listed is treated as the listed fallback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from telethon.tl import types

from tgstat.domain.ids import CommentId, EventId, PostId, UserId
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    InviteLink,
    MemberAction,
    MemberEvent,
    Post,
    PostCounters,
    ReactionCount,
    UserProfile,
)

_MEDIA_KINDS = {
    types.MessageMediaPhoto: "photo",
    types.MessageMediaWebPage: "webpage",
    types.MessageMediaPoll: "poll",
    types.MessageMediaGeo: "geo",
    types.MessageMediaGeoLive: "geo",
    types.MessageMediaVenue: "geo",
    types.MessageMediaContact: "contact",
}


def username(channel: Any) -> str | None:
    if channel.username:
        return str(channel.username)
    # Channels with collectible usernames only list them in ``usernames``.
    active = [u.username for u in channel.usernames or () if u.active]
    return str(active[0]) if active else None


def to_post(channel: Any, message: Any, now: datetime) -> Post:
    """A ``types.Message`` of the channel (callers leave out MessageService and
    MessageEmpty: neither is a post)."""
    thread = message.replies if message.replies is not None and message.replies.comments else None
    name = username(channel)
    link = (
        f"https://t.me/{name}/{message.id}" if name else f"https://t.me/c/{channel.id}/{message.id}"
    )
    return Post(
        id=PostId(message.id),
        date=message.date,
        text=message.message or None,
        media=_media_kind(message.media),
        link=link,
        counters=PostCounters(
            PostId(message.id),
            now,
            views=message.views,
            forwards=message.forwards,
            reactions=_to_reactions(message.reactions),
            comments=thread.replies if thread is not None else None,
        ),
        has_discussion=thread is not None,
        grouped_id=message.grouped_id,
    )


def _to_reactions(reactions: Any) -> tuple[ReactionCount, ...]:
    # Telegram leaves ``reactions`` out of a message that has none (and where reactions are
    # off), so a missing field is "known: none", not "unknown".
    if reactions is None:
        return ()
    out = []
    for result in reactions.results:
        r = result.reaction
        if isinstance(r, types.ReactionEmoji):
            out.append(ReactionCount.emoji(r.emoticon, result.count))
        elif isinstance(r, types.ReactionCustomEmoji):
            out.append(ReactionCount.custom(r.document_id, result.count))
        elif isinstance(r, types.ReactionPaid):
            out.append(ReactionCount.paid(result.count))
    return tuple(out)


def _media_kind(media: Any) -> str | None:
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None
    if isinstance(media, types.MessageMediaDocument):
        attributes = {type(a) for a in getattr(media.document, "attributes", ())}
        # A video sticker also carries a video attribute: it is still a sticker.
        if types.DocumentAttributeSticker in attributes:
            return "sticker"
        if types.DocumentAttributeVideo in attributes:
            return "video"
        if types.DocumentAttributeAudio in attributes:
            return "audio"
        return "document"
    kind = _MEDIA_KINDS.get(type(media))
    return kind or type(media).__name__.removeprefix("MessageMedia").lower()


def to_comment(post_id: PostId, message: Any) -> Comment:
    """A ``types.Message`` of a post's thread; every one is a comment, whoever sent it.

    ``from_id``: ``PeerUser`` -> USER; ``PeerChannel`` of the discussion group itself
    (the message's own ``peer_id``, where the thread lives) -> ANONYMOUS, an anonymous
    admin, with the group's id; any other ``PeerChannel`` -> CHANNEL, a user posting as
    a channel; None, ``PeerChat`` or anything else -> NONE without an id (Telegram named no
    sender we can count as a distinct commenter).
    """
    peer = message.from_id
    group = message.peer_id.channel_id if isinstance(message.peer_id, types.PeerChannel) else None
    kind: AuthorKind
    author: int | None
    if isinstance(peer, types.PeerUser):
        kind, author = AuthorKind.USER, peer.user_id
    elif isinstance(peer, types.PeerChannel) and peer.channel_id == group:
        kind, author = AuthorKind.ANONYMOUS, peer.channel_id
    elif isinstance(peer, types.PeerChannel):
        kind, author = AuthorKind.CHANNEL, peer.channel_id
    else:
        kind, author = AuthorKind.NONE, None
    return Comment(CommentId(message.id), post_id, message.date, kind, author)


def to_member_event(event: Any, users: Mapping[int, Any]) -> MemberEvent | None:
    """A raw ``types.ChannelAdminLogEvent`` with the ``users`` of its answer (by id).

    The subscriber is ``event.user_id`` for Join, JoinByInvite, JoinByRequest and Leave;
    ``action.participant`` for Invite (the event's user is the admin who added them);
    ``new_participant.peer`` for ToggleBan (the event's user is the admin). ToggleBan is a
    removal (KICK) only when the participant goes from in the channel to out of it (see
    ``_is_out``); unbans, restrictions and edits of an existing ban are no membership
    change. Any other action (title, promotion, ...) is None. A user object Telegram left
    out of ``users`` gives a profile with the id alone; it never raises.
    """
    action = event.action
    invite = None
    subscriber: int | None = event.user_id
    kind: MemberAction
    if isinstance(action, types.ChannelAdminLogEventActionParticipantJoin):
        kind = MemberAction.JOIN
    elif isinstance(action, types.ChannelAdminLogEventActionParticipantJoinByInvite):
        kind = MemberAction.JOIN_BY_INVITE
        invite = _to_invite(action.invite, via_chatlist=bool(action.via_chatlist))
    elif isinstance(action, types.ChannelAdminLogEventActionParticipantJoinByRequest):
        kind = MemberAction.JOIN_BY_REQUEST
        invite = _to_invite(action.invite, via_chatlist=False)
    elif isinstance(action, types.ChannelAdminLogEventActionParticipantInvite):
        kind, subscriber = MemberAction.INVITE, _participant_user(action.participant)
    elif isinstance(action, types.ChannelAdminLogEventActionParticipantLeave):
        kind = MemberAction.LEAVE
    elif isinstance(action, types.ChannelAdminLogEventActionParticipantToggleBan):
        if _is_out(action.prev_participant) or not _is_out(action.new_participant):
            return None
        kind, subscriber = MemberAction.KICK, _participant_user(action.new_participant)
    else:
        return None
    if subscriber is None:  # a channel, not a user, was added or removed
        return None
    return MemberEvent(EventId(event.id), event.date, kind, to_profile(subscriber, users), invite)


def _to_invite(invite: Any, *, via_chatlist: bool) -> InviteLink | None:
    """``ChatInviteExported`` -> its link and title; ``ChatInvitePublicJoinRequests`` (a
    join request made through the public username, no link at all) and any other
    constructor -> None."""
    if isinstance(invite, types.ChatInviteExported):
        return InviteLink(invite.link, invite.title, via_chatlist)
    return None


def _participant_user(participant: Any) -> int | None:
    """The user of a ``ChannelParticipant*``: ``user_id`` of ChannelParticipant, Self,
    Admin and Creator; ``peer`` of Banned and Left when it is a ``PeerUser``; None for a
    ``PeerChannel`` peer or an unknown constructor."""
    user_id = getattr(participant, "user_id", None)
    if user_id is not None:
        return int(user_id)
    peer = getattr(participant, "peer", None)
    return int(peer.user_id) if isinstance(peer, types.PeerUser) else None


def _is_out(participant: Any) -> bool:
    """The participant is not in the channel: ``ChannelParticipantLeft``, or
    ``ChannelParticipantBanned`` banned from ``view_messages`` or marked ``left``. A ban
    without either (a restriction of a member) and the member constructors
    (ChannelParticipant, Self, Admin, Creator) are in."""
    if isinstance(participant, types.ChannelParticipantLeft):
        return True
    if isinstance(participant, types.ChannelParticipantBanned):
        return bool(participant.banned_rights.view_messages or participant.left)
    return False


def to_profile(user_id: int, users: Mapping[int, Any]) -> UserProfile:
    """The ``types.User`` with that id; a user missing from the answer (or a
    ``UserEmpty``) gives the id alone, every other field None (unknown)."""
    user = users.get(user_id)
    if not isinstance(user, types.User):
        return UserProfile(UserId(user_id))
    # Telegram omits a false flag, so None is False here.
    return UserProfile(
        UserId(user_id),
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        premium=bool(user.premium),
        scam=bool(user.scam),
        verified=bool(user.verified),
        phone=user.phone,
        bot=bool(user.bot),
    )
