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

from tgstat.adapters.telethon.mapping import to_comment, to_member_event, to_post, username
from tgstat.adapters.telethon.session import DEAD_SESSION_ERRORS, TRANSPORT_ERRORS
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import Comment, MemberEvent, Post
from tgstat.domain.planning import MAX_IDS_PER_REQUEST
from tgstat.ports.gateway import (
    ChannelAmbiguousError,
    ChannelForbiddenError,
    ChannelInfo,
    ChannelNotFoundError,
    DisconnectedError,
    GatewayError,
    NoDiscussionError,
    PostsRead,
    RateLimitedError,
    SessionBannedError,
    SubscriberCountUnknownError,
    TelegramGateway,
    ThreadUnreadableError,
)

_REQUEST_KINDS = {
    "GetHistoryRequest": "posts",
    "GetMessagesRequest": "counters",
    "GetRepliesRequest": "comments",
    "GetAdminLogRequest": "admin_log",
    "GetFullChannelRequest": "channel",
    "GetDialogsRequest": "resolve",
    "ResolveUsernameRequest": "resolve",
    "GetChannelsRequest": "resolve",
}
"""Request class name -> kind. Telethon's own traffic (pings, updates) is not counted."""

ADMIN_LOG_PAGE = 100
"""Events per admin-log request (Telegram's maximum, as Telethon pages it)."""

_MEMBERSHIP_FILTER = types.ChannelAdminLogEventsFilter(
    join=True, leave=True, invite=True, ban=True, unban=True, kick=True, unkick=True
)
"""Joins (plain, by invite, by request), leaves, admin additions and every ban toggle:
Telegram files a ban toggle under ban/unban/kick/unkick by rules of its own, so all four
are read and each toggle is classified from its participants (mapping.to_member_event)."""


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
        ``comments``, ``admin_log``, ``channel`` (subscriber counts), and ``resolve`` for
        channel lookups."""
        return dict(self._requests)

    async def resolve_channel(self, query: str) -> ChannelInfo:
        with self._translated(f"channel {query!r}"):
            if query.startswith("@"):
                channel = await self._by_username(query)
            else:
                channel = await self._by_id_or_title(query)
        self._channels[ChannelId(channel.id)] = channel
        return ChannelInfo(ChannelId(channel.id), channel.title, username(channel))

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            # Telethon filters min_id client side and stops at the first message at or
            # below it: pages of 100, newest first.
            found = [
                m async for m in self._client.iter_messages(channel, limit=None, min_id=after or 0)
            ]
        now = datetime.now(UTC)
        posts = [to_post(channel, m, now) for m in found if isinstance(m, types.Message)]
        return sorted(posts, key=lambda p: p.id)

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        """One channels.getMessages. Each answered message is a ``Message`` (a post),
        a ``MessageService`` (neither a post nor deleted) or a ``MessageEmpty`` (deleted:
        Telegram keeps no message with that id). The request is sent as is rather than
        through ``get_messages``, which renders MessageEmpty as None and so loses its id;
        an id Telegram does not answer at all is neither."""
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(f"at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}")
        if not ids:
            return PostsRead(())
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            answer = await self._client(functions.channels.GetMessagesRequest(channel, list(ids)))
        now = datetime.now(UTC)
        asked = set(ids)
        found = [m for m in answer.messages if m.id in asked]
        return PostsRead(
            posts=tuple(to_post(channel, m, now) for m in found if isinstance(m, types.Message)),
            deleted=frozenset(PostId(m.id) for m in found if isinstance(m, types.MessageEmpty)),
        )

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        """Telegram answers MSG_ID_INVALID both for a post without a discussion thread and
        for one whose thread is gone or moved; on that error the post is read (one
        channels.getMessages) to tell them apart: a post that still reports a comments
        thread (or is gone) -> ThreadUnreadableError, one without -> NoDiscussionError."""
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
                raise await self._thread_error(channel_id, post_id) from e
        # Service messages of the group (pins, joins) are not comments.
        comments = [to_comment(post_id, m) for m in found if isinstance(m, types.Message)]
        return sorted(comments, key=lambda c: c.id)

    async def _thread_error(self, channel_id: ChannelId, post_id: PostId) -> GatewayError:
        read = await self.fetch_posts(channel_id, [post_id])
        where = f"post {post_id} of {self._describe(channel_id)}"
        if any(not p.has_discussion for p in read.posts):
            return NoDiscussionError(f"{where} has no discussion thread")
        return ThreadUnreadableError(f"{where} reports comments but its thread is unreadable")

    async def fetch_subscriber_count(self, channel_id: ChannelId) -> int:
        """``participants_count`` of the ChannelFull that channels.getFullChannel answers.
        Raises SubscriberCountUnknownError when Telegram leaves it out (or answers another
        ``full_chat`` constructor): unknown is not 0."""
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            answer = await self._client(functions.channels.GetFullChannelRequest(channel))
        full = answer.full_chat
        count = full.participants_count if isinstance(full, types.ChannelFull) else None
        if count is None:
            raise SubscriberCountUnknownError(
                f"Telegram did not report the subscriber count of {self._describe(channel_id)}"
            )
        return int(count)

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        """Membership events of the admin log above ``after``, removals included.

        The requests are built here, paged as Telethon pages them (newest first, 100 per
        request, ``max_id`` = the lowest id seen, until a short page; ``min_id``
        exclusive), and the raw events are mapped with their answer's ``users``: Telethon's
        ``AdminLogEvent`` raises KeyError when Telegram leaves a user object out.
        """
        with self._translated(self._describe(channel_id)):
            channel = await self._channel(channel_id)
            events: list[MemberEvent] = []
            max_id = 0
            while True:
                answer = await self._client(
                    functions.channels.GetAdminLogRequest(
                        channel,
                        q="",
                        max_id=max_id,
                        min_id=after,
                        limit=ADMIN_LOG_PAGE,
                        events_filter=_MEMBERSHIP_FILTER,
                    )
                )
                users = {u.id: u for u in answer.users}
                events += [ev for e in answer.events if (ev := to_member_event(e, users))]
                if len(answer.events) < ADMIN_LOG_PAGE:
                    break
                max_id = min(e.id for e in answer.events)
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
        except TRANSPORT_ERRORS as e:
            raise DisconnectedError(f"connection to Telegram lost: {e!r}") from e


def _is_broadcast(entity: Any) -> bool:
    return isinstance(entity, types.Channel) and bool(entity.broadcast)


def _bare_id(query: str) -> int | None:
    digits = query.removeprefix("-100") if query.startswith("-100") else query
    return int(digits) if digits.isdigit() else None
