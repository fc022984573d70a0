"""The scripted channel behind the TelegramGateway port, answered as Telegram would."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta

from tgstat.adapters.replay.clock import Clock
from tgstat.adapters.replay.posts import ScriptedPost
from tgstat.adapters.replay.scenario import Scenario
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import Comment, MemberEvent, Post, PostCounters, ReactionCount
from tgstat.domain.planning import MAX_IDS_PER_REQUEST
from tgstat.ports.gateway import (
    ChannelInfo,
    ChannelNotFoundError,
    DisconnectedError,
    NoDiscussionError,
    PostsRead,
    RateLimitedError,
    SessionBannedError,
    TelegramGateway,
    ThreadUnreadableError,
)

PAGE_SIZE = 100
ADMIN_LOG_RETENTION = timedelta(hours=48)


def _reaction(key: str, count: int) -> ReactionCount:
    if key == "paid":
        return ReactionCount.paid(count)
    if key.startswith("custom:"):
        return ReactionCount.custom(int(key.removeprefix("custom:")), count)
    return ReactionCount.emoji(key, count)


class ReplayGateway(TelegramGateway):
    """Answers as Telegram would for the scripted channel at the clock's time.

    Counts requests at Telegram's page sizes: 100 messages per history or replies page,
    100 admin-log events per page, 100 ids per counter refresh, one request per
    subscriber count (kind ``channel``). A call Telegram answers with an error (no
    discussion, an unreadable thread) costs its request too.
    """

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self._sc = scenario
        self._clock = clock
        self._posts = {p.id: p for p in scenario.posts}
        self._post_ids = [p.id for p in scenario.posts]  # ascending (Scenario sorts them)
        self._faults = list(scenario.faults)
        self._banned = False
        self._requests: Counter[str] = Counter()

    def request_counts(self) -> Mapping[str, int]:
        return dict(self._requests)

    def _enter(self, kind: str, requests: int = 1) -> None:
        now = self._clock.now
        if self._banned:
            raise SessionBannedError("the replay session was banned")
        for fault in self._faults:
            if fault.at <= now and fault.call in (kind, "any"):
                self._faults.remove(fault)
                if fault.kind == "flood_wait":
                    raise RateLimitedError(
                        f"FloodWait of {fault.seconds:g} s (scripted)", fault.seconds
                    )
                if fault.kind == "disconnect":
                    raise DisconnectedError("connection lost (scripted)")
                self._banned = True
                raise SessionBannedError("the replay session was banned (scripted)")
        self._requests[kind] += requests

    def _check_channel(self, channel_id: ChannelId) -> None:
        if channel_id != self._sc.channel.id:
            raise ChannelNotFoundError(f"channel {channel_id} is not in the scenario")

    async def resolve_channel(self, query: str) -> ChannelInfo:
        ch = self._sc.channel
        if query in (ch.title, str(ch.id)) or (ch.username and query == f"@{ch.username}"):
            return ch
        raise ChannelNotFoundError(f"no channel titled {query!r} (the scenario has {ch.title!r})")

    def _post(self, p: ScriptedPost) -> Post:
        now = self._clock.now
        reactions = tuple(
            _reaction(key, line.at(now)) for key, line in p.reactions if line.at(now) > 0
        )
        # An unreadable thread still reports its counter (the comments scripted for it).
        comments = sum(1 for c in p.comments if c.date <= now) if p.discussion else None
        username = self._sc.channel.username
        link = (
            f"https://t.me/{username}/{p.id}"
            if username
            else f"https://t.me/c/{self._sc.channel.id}/{p.id}"
        )
        return Post(
            id=PostId(p.id),
            date=p.date,
            text=p.text,
            media=p.media,
            link=link,
            counters=PostCounters(
                PostId(p.id),
                now,
                views=p.views.at(now),
                forwards=p.forwards.at(now),
                reactions=reactions,
                comments=comments,
            ),
            has_discussion=p.discussion,
            grouped_id=p.grouped_id,
        )

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        self._check_channel(channel_id)
        now = self._clock.now
        above = self._sc.posts[bisect.bisect_right(self._post_ids, after or 0) :]
        found = [p for p in above if p.visible_at(now)]
        # History pages run newest first and stop at min_id: a page per 100 posts, at least one.
        self._enter("posts", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [self._post(p) for p in found]

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        """Asked order kept. Telegram answers ``MessageEmpty`` for an id it holds no
        message for (deleted, or never sent): those ids are ``deleted``. A scripted post
        asked for before its date (only a replay re-run into the same database asks for a
        post from its future) is neither."""
        self._check_channel(channel_id)
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(f"at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}")
        if not ids:
            return PostsRead(())
        self._enter("counters", 1)
        now = self._clock.now
        scripted = {i: p for i in ids if (p := self._posts.get(i)) is not None}
        return PostsRead(
            posts=tuple(self._post(p) for p in scripted.values() if p.visible_at(now)),
            deleted=frozenset(
                i for i in ids if i not in scripted or scripted[i].deleted_at_or_before(now)
            ),
        )

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        """Raises NoDiscussionError for a post without a discussion group, and
        ThreadUnreadableError (Telegram's ``MSG_ID_INVALID``) for a ``thread_unreadable``
        post or one that is not there (deleted or never sent)."""
        self._check_channel(channel_id)
        now, post = self._clock.now, self._posts.get(post_id)
        gone = post is None or not post.visible_at(now)
        if gone or post is None or not post.discussion or post.thread_unreadable:
            # Telegram answers MSG_ID_INVALID to the thread read, and the Telethon gateway
            # then reads the post once (one counters request) to tell why
            self._enter("comments", 1)
            self._requests["counters"] += 1
        if gone or post is None:
            raise ThreadUnreadableError(f"post {post_id} is not in the channel (MSG_ID_INVALID)")
        if not post.discussion:
            raise NoDiscussionError(f"post {post_id} has no discussion group")
        if post.thread_unreadable:
            raise ThreadUnreadableError(
                f"post {post_id} reports comments but its thread cannot be read (MSG_ID_INVALID)"
            )
        floor = after or 0
        found = [c for c in post.comments if c.date <= now and c.id > floor]
        self._enter("comments", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [
            Comment(CommentId(c.id), PostId(post_id), c.date, c.author_kind, c.author_id)
            for c in found
        ]

    async def fetch_subscriber_count(self, channel_id: ChannelId) -> int:
        """``channel.subscribers`` at the clock's time (0 when the scenario has none)."""
        self._check_channel(channel_id)
        self._enter("channel", 1)
        return self._sc.subscribers.at(self._clock.now)

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        """Events above ``after`` of the last 48 hours, ascending; a ``user_missing``
        event carries the user's id alone, as Telegram's answer without the user object."""
        self._check_channel(channel_id)
        now = self._clock.now
        found = [
            e
            for e in self._sc.admin_log
            if e.id > after and e.date <= now and now - e.date < ADMIN_LOG_RETENTION
        ]
        self._enter("admin_log", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [MemberEvent(EventId(e.id), e.date, e.action, e.user, e.invite) for e in found]
