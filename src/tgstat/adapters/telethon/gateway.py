"""The TelegramGateway port over Telethon: TL objects become domain values, Telethon errors
become the port's errors. Telethon ships no type hints, so its objects are ``Any`` here."""

from __future__ import annotations

import contextlib
import difflib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from telethon import errors
from telethon.tl import functions, types

from tgstat.adapters.telethon.session import DEAD_SESSION_ERRORS
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, UserId
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    MemberAction,
    MemberEvent,
    Post,
    PostCounters,
    ReactionCount,
    UserProfile,
)
from tgstat.domain.planning import MAX_IDS_PER_REQUEST
from tgstat.ports.gateway import (
    ChannelAmbiguousError,
    ChannelForbiddenError,
    ChannelInfo,
    ChannelNotFoundError,
    DisconnectedError,
    NoDiscussionError,
    RateLimitedError,
    SessionBannedError,
    TelegramGateway,
)

_REQUEST_KINDS = {
    "GetHistoryRequest": "posts",
    "GetMessagesRequest": "counters",
    "GetRepliesRequest": "comments",
    "GetAdminLogRequest": "admin_log",
    "GetDialogsRequest": "resolve",
    "ResolveUsernameRequest": "resolve",
    "GetChannelsRequest": "resolve",
}
"""Request class name -> kind. Telethon's own traffic (pings, updates) is not counted."""

_MEMBER_ACTIONS = {
    types.ChannelAdminLogEventActionParticipantJoin: MemberAction.JOIN,
    types.ChannelAdminLogEventActionParticipantJoinByInvite: MemberAction.JOIN_BY_INVITE,
    types.ChannelAdminLogEventActionParticipantJoinByRequest: MemberAction.JOIN_BY_REQUEST,
    types.ChannelAdminLogEventActionParticipantInvite: MemberAction.INVITE,
    types.ChannelAdminLogEventActionParticipantLeave: MemberAction.LEAVE,
}

_MEDIA_KINDS = {
    types.MessageMediaPhoto: "photo",
    types.MessageMediaWebPage: "webpage",
    types.MessageMediaPoll: "poll",
    types.MessageMediaGeo: "geo",
    types.MessageMediaGeoLive: "geo",
    types.MessageMediaVenue: "geo",
    types.MessageMediaContact: "contact",
}


class TelethonGateway(TelegramGateway):
    """Reads Telegram through a connected, authorised ``TelegramClient``.

    The caller owns the client: it connects it and sets ``flood_sleep_threshold`` (shorter
    FloodWaits are slept inside Telethon) and ``raise_last_call_error=True``. Requests are
    counted where Telethon hands them to its sender (``client._sender.send``), so retries
    count too; use one gateway per client. Resolved channels are cached for its lifetime.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._channels: dict[ChannelId, Any] = {}
        self._requests: Counter[str] = Counter()
        sender = client._sender
        send = sender.send

        def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
            sent = send(request, *args, **kwargs)  # raises, uncounted, when disconnected
            for r in request if isinstance(request, list) else [request]:
                if isinstance(r, functions.InvokeWithoutUpdatesRequest):
                    r = r.query
                kind = _REQUEST_KINDS.get(type(r).__name__)
                if kind is not None:
                    self._requests[kind] += 1
            return sent

        sender.send = counted

    def request_counts(self) -> Mapping[str, int]:
        """Requests sent to Telegram so far, by kind: ``posts``, ``counters``,
        ``comments``, ``admin_log``, and ``resolve`` for channel lookups."""
        return dict(self._requests)

    async def resolve_channel(self, query: str) -> ChannelInfo:
        with self._translated(f"channel {query!r}"):
            if query.startswith("@"):
                channel = await self._by_username(query)
            else:
                channel = await self._by_id_or_title(query)
        self._channels[ChannelId(channel.id)] = channel
        return ChannelInfo(ChannelId(channel.id), channel.title, _username(channel))

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            # Telethon filters min_id client side and stops at the first message at or
            # below it: pages of 100, newest first.
            found = [
                m async for m in self._client.iter_messages(channel, limit=None, min_id=after or 0)
            ]
        now = datetime.now(UTC)
        posts = [_to_post(channel, m, now) for m in found if isinstance(m, types.Message)]
        return sorted(posts, key=lambda p: p.id)

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> Sequence[Post]:
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(f"at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}")
        if not ids:
            return []
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            found = await self._client.get_messages(channel, ids=list(ids), wait_time=0)
        now = datetime.now(UTC)
        # Deleted posts come back as None (Telethon's rendering of MessageEmpty).
        return [_to_post(channel, m, now) for m in found if isinstance(m, types.Message)]

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            try:
                found = [
                    m
                    async for m in self._client.iter_messages(
                        channel, reply_to=post_id, min_id=after or 0
                    )
                ]
            except errors.MsgIdInvalidError as e:
                raise NoDiscussionError(
                    f"post {post_id} of {self._describe(channel_id)} has no discussion thread"
                ) from e
        comments = [
            c
            for m in found
            if isinstance(m, types.Message) and (c := _to_comment(post_id, m)) is not None
        ]
        return sorted(comments, key=lambda c: c.id)

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            found = [
                e
                async for e in self._client.iter_admin_log(
                    channel, min_id=after, join=True, leave=True, invite=True
                )
            ]
        events = [ev for e in found if (ev := _to_member_event(e)) is not None]
        return sorted(events, key=lambda e: e.id)

    async def _channel(self, channel_id: ChannelId) -> Any:
        channel = self._channels.get(channel_id)
        if channel is not None:
            return channel
        try:
            channel = await self._client.get_entity(types.PeerChannel(channel_id))
        except ValueError as e:  # not in the session's entity cache: look among dialogs
            matches = [c for c in await self._broadcast_channels() if c.id == channel_id]
            if not matches:
                raise ChannelNotFoundError(
                    f"channel {channel_id} is not among this account's channels"
                ) from e
            channel = matches[0]
        self._channels[channel_id] = channel
        return channel

    async def _by_username(self, query: str) -> Any:
        try:
            entity = await self._client.get_entity(query)
        except (ValueError, errors.UsernameInvalidError) as e:
            raise ChannelNotFoundError(f"nobody is called {query} on Telegram") from e
        if not _is_broadcast(entity):
            raise ChannelNotFoundError(f"{query} is not a broadcast channel")
        return entity

    async def _by_id_or_title(self, query: str) -> Any:
        bare = _bare_id(query)
        if bare is not None:
            with contextlib.suppress(ValueError):  # uncached id: the dialogs will tell
                entity = await self._client.get_entity(types.PeerChannel(bare))
                if _is_broadcast(entity):
                    return entity
        channels = await self._broadcast_channels()
        matches = [c for c in channels if c.id == bare] or [c for c in channels if c.title == query]
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f'"{c.title}" (id {c.id})' for c in matches)
            raise ChannelAmbiguousError(f"{len(matches)} channels are titled {query!r}: {listed}")
        close = difflib.get_close_matches(query, [c.title for c in channels], n=5)
        hint = f"; close titles: {', '.join(repr(t) for t in close)}" if close else ""
        raise ChannelNotFoundError(f"no channel of this account is titled {query!r}{hint}")

    async def _broadcast_channels(self) -> list[Any]:
        channels = [d.entity async for d in self._client.iter_dialogs() if _is_broadcast(d.entity)]
        self._channels.update((ChannelId(c.id), c) for c in channels)
        return channels

    def _describe(self, channel_id: ChannelId) -> str:
        channel = self._channels.get(channel_id)
        return (
            f'channel "{channel.title}" (id {channel_id})' if channel else f"channel {channel_id}"
        )

    @contextlib.contextmanager
    def _translated(self, channel: str) -> Iterator[None]:
        try:
            yield
        except errors.FloodWaitError as e:
            asked = type(e.request).__name__ if e.request is not None else "a request"
            raise RateLimitedError(
                f"Telegram asks to wait {e.seconds} s (FloodWait on {asked})",
                retry_after=float(e.seconds),
            ) from e
        except DEAD_SESSION_ERRORS as e:
            raise SessionBannedError(f"Telegram rejected the session: {type(e).__name__}") from e
        except (errors.ChannelPrivateError, errors.ChatAdminRequiredError) as e:
            raise ChannelForbiddenError(
                f"the account may not read {channel}: {type(e).__name__}"
            ) from e
        except (errors.ServerError, errors.TimedOutError) as e:
            # Telethon already retried these: Telegram is having trouble, not the request.
            raise DisconnectedError(f"Telegram failed to answer: {type(e).__name__}") from e
        except OSError as e:  # ConnectionError, TimeoutError: the link dropped
            raise DisconnectedError(f"connection to Telegram lost: {e!r}") from e


def _is_broadcast(entity: Any) -> bool:
    return isinstance(entity, types.Channel) and bool(entity.broadcast)


def _bare_id(query: str) -> int | None:
    digits = query.removeprefix("-100") if query.startswith("-100") else query
    return int(digits) if digits.isdigit() else None


def _username(channel: Any) -> str | None:
    if channel.username:
        return str(channel.username)
    # Channels with collectible usernames only list them in ``usernames``.
    active = [u.username for u in channel.usernames or () if u.active]
    return str(active[0]) if active else None


def _to_post(channel: Any, message: Any, now: datetime) -> Post:
    thread = message.replies if message.replies is not None and message.replies.comments else None
    username = _username(channel)
    link = (
        f"https://t.me/{username}/{message.id}"
        if username
        else f"https://t.me/c/{channel.id}/{message.id}"
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


def _to_comment(post_id: PostId, message: Any) -> Comment | None:
    peer = message.from_id
    if isinstance(peer, types.PeerUser):
        kind, author = AuthorKind.USER, peer.user_id
    elif isinstance(peer, types.PeerChannel):
        kind, author = AuthorKind.CHANNEL, peer.channel_id
    else:
        return None
    return Comment(CommentId(message.id), post_id, message.date, kind, author)


def _to_member_event(event: Any) -> MemberEvent | None:
    action = _MEMBER_ACTIONS.get(type(event.action))
    if action is None:
        return None
    # An admin's addition is logged under the admin's id; the subscriber is the participant.
    subscriber = event.action.participant if action is MemberAction.INVITE else event
    user_id = getattr(subscriber, "user_id", None)
    if user_id is None:
        return None
    return MemberEvent(EventId(event.id), event.date, action, _to_profile(user_id, event.entities))


def _to_profile(user_id: int, entities: Mapping[int, Any]) -> UserProfile:
    user = entities.get(user_id)
    if not isinstance(user, types.User):
        return UserProfile(UserId(user_id))
    return UserProfile(
        UserId(user_id),
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        premium=bool(user.premium),
        scam=bool(user.scam),
        verified=bool(user.verified),
        phone=user.phone,
    )
