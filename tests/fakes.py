"""Stateful fakes that satisfy the ports: working in-memory implementations, not mocks.

The contract tests (tests/integration/test_repository_contract.py) run one suite against
FakeStatRepository and PostgresStatRepository so the two cannot drift.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import attrs

from tgstat.domain.horizons import CommentStats, HorizonValues, comment_stats
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, SessionPk, UserId
from tgstat.domain.model import (
    ChannelConfig,
    Comment,
    CounterSnapshot,
    MemberEvent,
    Membership,
    Post,
    ReactionCount,
    SealedSession,
    SessionStatus,
    SubscriberReading,
)
from tgstat.domain.planning import MAX_IDS_PER_REQUEST, FollowUp, FollowUpRun
from tgstat.ports.gateway import (
    ChannelInfo,
    ChannelNotFoundError,
    NoDiscussionError,
    PostsRead,
    TelegramGateway,
    ThreadUnreadableError,
)
from tgstat.ports.repository import (
    ChannelBusyError,
    StatRepository,
    StatSession,
    TrackedPost,
    UnknownChannelError,
    UnknownSessionError,
)
from tgstat.ports.scheduler import SchedulerError


@attrs.define
class _Stored:
    post: Post
    at: datetime
    horizons: dict[str, int | None] = attrs.Factory(dict)
    users: int | None = None
    channels: int | None = None
    deleted_at: datetime | None = None
    thread_unreadable_at: datetime | None = None


@attrs.define
class _State:
    sessions: dict[SessionPk, SealedSession] = attrs.Factory(dict)
    channels: dict[ChannelId, ChannelConfig] = attrs.Factory(dict)
    last_collected: dict[ChannelId, datetime] = attrs.Factory(dict)
    rotation: dict[ChannelId, PostId | None] = attrs.Factory(dict)
    posts: dict[tuple[ChannelId, PostId], _Stored] = attrs.Factory(dict)
    snapshots: dict[tuple[ChannelId, PostId, datetime], CounterSnapshot] = attrs.Factory(dict)
    reactions: dict[tuple[ChannelId, PostId], tuple[ReactionCount, ...]] = attrs.Factory(dict)
    comments: dict[tuple[ChannelId, PostId, CommentId], Comment] = attrs.Factory(dict)
    memberships: list[tuple[Membership, datetime]] = attrs.Factory(list)
    followups: dict[str, tuple[FollowUp, datetime | None]] = attrs.Factory(dict)
    subscribers: dict[tuple[ChannelId, datetime], SubscriberReading] = attrs.Factory(dict)
    measured: dict[str, tuple[datetime, int]] = attrs.Factory(dict)
    """Follow-up key -> (measured_at, late_by_s)."""
    next_pk: int = 1


class FakeStatSession(StatSession):
    def __init__(self, repo: FakeStatRepository) -> None:
        self._repo = repo
        self._in_tx = False

    @property
    def _s(self) -> _State:
        return self._repo.state

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        saved = copy.deepcopy(self._repo.state)
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._repo.state = saved
            raise
        finally:
            self._in_tx = False

    def _write(self) -> None:
        if not self._in_tx:
            raise RuntimeError("repository writes must run inside session.transaction()")

    def _pk(self) -> int:
        self._s.next_pk += 1
        return self._s.next_pk - 1

    async def upsert_session(self, session: SealedSession) -> SessionPk:
        self._write()
        for pk, old in self._s.sessions.items():
            if old.phone_number == session.phone_number:
                self._s.sessions[pk] = attrs.evolve(session, pk=pk)
                return pk
        pk = SessionPk(self._pk())
        self._s.sessions[pk] = attrs.evolve(session, pk=pk)
        return pk

    async def get_session(self, pk: SessionPk) -> SealedSession:
        if pk not in self._s.sessions:
            raise UnknownSessionError(f"no session pool row with pk {pk}")
        return self._s.sessions[pk]

    async def enabled_sessions(self) -> Sequence[SealedSession]:
        return [s for _, s in sorted(self._s.sessions.items()) if s.status is SessionStatus.ENABLED]

    async def mark_session_banned(self, pk: SessionPk, reason: str, at: datetime) -> None:
        self._write()
        old = await self.get_session(pk)
        self._s.sessions[pk] = attrs.evolve(old, status=SessionStatus.BANNED, status_reason=reason)

    async def store_session_file(self, pk: SessionPk, session_bytes: bytes) -> None:
        self._write()
        old = await self.get_session(pk)
        self._s.sessions[pk] = attrs.evolve(old, session_bytes=session_bytes)

    async def sealed_session_count(self) -> int:
        return sum(1 for s in self._s.sessions.values() if s.session_bytes is not None)

    async def upsert_channel(self, channel: ChannelConfig) -> None:
        self._write()
        old = self._s.channels.get(channel.channel_id)
        cursor = old.admin_log_cursor if old else channel.admin_log_cursor
        self._s.channels[channel.channel_id] = attrs.evolve(channel, admin_log_cursor=cursor)

    async def get_channel(self, channel_id: ChannelId) -> ChannelConfig:
        if channel_id not in self._s.channels:
            raise UnknownChannelError(f"channel {channel_id} is not configured")
        return self._channel(channel_id)

    async def list_channels(self) -> Sequence[ChannelConfig]:
        return [self._channel(c) for c in sorted(self._s.channels)]

    def _channel(self, channel_id: ChannelId) -> ChannelConfig:
        last = self._s.last_collected.get(channel_id)
        return attrs.evolve(self._s.channels[channel_id], last_collected_at=last)

    async def mark_collected(self, channel_id: ChannelId, at: datetime) -> None:
        self._write()
        if channel_id in self._s.channels:
            old = self._s.last_collected.get(channel_id)
            self._s.last_collected[channel_id] = at if old is None else max(old, at)

    def _posts_of(self, channel_id: ChannelId, *, live: bool = False) -> list[_Stored]:
        """The channel's stored posts by id; ``live``: without the deleted ones."""
        return sorted(
            (
                st
                for (c, _), st in self._s.posts.items()
                if c == channel_id and not (live and st.deleted_at is not None)
            ),
            key=lambda st: st.post.id,
        )

    async def max_post_id(self, channel_id: ChannelId) -> PostId | None:
        posts = self._posts_of(channel_id)
        return posts[-1].post.id if posts else None

    async def upsert_posts(
        self, channel_id: ChannelId, posts: Sequence[Post], at: datetime
    ) -> None:
        self._write()
        for post in posts:
            key = (channel_id, post.id)
            old = self._s.posts.get(key)
            if old is None:
                self._s.posts[key] = _Stored(post, at)
                continue
            c, o = post.counters, old.post.counters
            merged = attrs.evolve(
                c,
                views=o.views if c.views is None else c.views,
                forwards=o.forwards if c.forwards is None else c.forwards,
                reactions=o.reactions if c.reactions is None else c.reactions,
                comments=o.comments if c.comments is None else c.comments,
            )
            old.post, old.at = attrs.evolve(post, counters=merged), at

    async def add_snapshots(
        self, channel_id: ChannelId, snapshots: Sequence[CounterSnapshot]
    ) -> None:
        self._write()
        for snap in snapshots:
            self._s.snapshots.setdefault((channel_id, snap.post_id, snap.taken_at), snap)

    async def replace_reactions(
        self,
        channel_id: ChannelId,
        reactions: Mapping[PostId, Sequence[ReactionCount]],
        at: datetime,
        *,
        keep_absent: bool = False,
    ) -> None:
        self._write()
        for pid, rs in reactions.items():
            given = {r.code: r for r in rs}
            kept = [
                r
                for r in self._s.reactions.get((channel_id, pid), ())
                if keep_absent and r.code not in given
            ]
            self._s.reactions[(channel_id, pid)] = (*kept, *rs)

    async def tracked_posts(
        self,
        channel_id: ChannelId,
        ids: Collection[PostId] | None = None,
        *,
        since: datetime | None = None,
    ) -> Sequence[TrackedPost]:
        out = []
        for st in self._posts_of(channel_id, live=True):
            p = st.post
            if ids is not None and p.id not in ids:
                continue
            if since is not None and p.date < since:
                continue
            comment_ids = [k[2] for k in self._s.comments if k[:2] == (channel_id, p.id)]
            out.append(
                TrackedPost(
                    p.id,
                    p.date,
                    p.counters.comments,
                    max(comment_ids, default=None),
                    p.has_discussion,
                    st.thread_unreadable_at,
                    p.counters.views,
                    p.counters.forwards,
                    p.counters.reactions_total,
                    st.at,
                )
            )
        return out

    async def album_post_ids(
        self, channel_id: ChannelId, grouped_ids: Collection[int]
    ) -> Sequence[PostId]:
        return [
            st.post.id
            for st in self._posts_of(channel_id, live=True)
            if st.post.grouped_id is not None and st.post.grouped_id in grouped_ids
        ]

    async def older_posts(
        self, channel_id: ChannelId, before: datetime, below_id: PostId | None, limit: int
    ) -> Sequence[PostId]:
        ids = [
            st.post.id
            for st in reversed(self._posts_of(channel_id, live=True))
            if st.post.date < before and (below_id is None or st.post.id < below_id)
        ]
        return ids[:limit]

    async def set_rotation_cursor(self, channel_id: ChannelId, cursor: PostId | None) -> None:
        self._write()
        self._s.rotation[channel_id] = cursor

    async def rotation_cursor(self, channel_id: ChannelId) -> PostId | None:
        await self.get_channel(channel_id)
        return self._s.rotation.get(channel_id)

    async def mark_deleted(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime
    ) -> None:
        self._write()
        for pid in ids:
            st = self._s.posts.get((channel_id, pid))
            if st is not None and st.deleted_at is None:
                st.deleted_at = at

    async def set_thread_unreadable(
        self, channel_id: ChannelId, ids: Collection[PostId], at: datetime | None
    ) -> None:
        self._write()
        for pid in ids:
            st = self._s.posts.get((channel_id, pid))
            if st is not None:
                st.thread_unreadable_at = at

    async def snapshots_near(
        self,
        channel_id: ChannelId,
        instants: Sequence[tuple[PostId, datetime]],
        tolerance: timedelta,
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        found: dict[PostId, list[CounterSnapshot]] = {}
        for (c, pid, taken_at), snap in sorted(
            self._s.snapshots.items(), key=lambda kv: (kv[0][1], kv[0][2])
        ):
            if c != channel_id:
                continue
            if any(p == pid and abs(taken_at - t) <= tolerance for p, t in instants):
                found.setdefault(pid, []).append(snap)
        return found

    async def snapshots_around(
        self, channel_id: ChannelId, instants: Sequence[tuple[PostId, datetime]]
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        found: dict[PostId, list[CounterSnapshot]] = {}
        for pid, instant in instants:
            mine = sorted(
                (s for (c, p, _), s in self._s.snapshots.items() if c == channel_id and p == pid),
                key=lambda s: s.taken_at,
            )
            before = [s for s in mine if s.taken_at <= instant][-1:]
            after = [s for s in mine if s.taken_at >= instant][:1]
            bucket = found.setdefault(pid, []) if before or after else []
            for s in (*before, *after):
                if s not in bucket:
                    bucket.append(s)
        return {pid: sorted(b, key=lambda s: s.taken_at) for pid, b in found.items()}

    async def set_horizon_values(
        self, channel_id: ChannelId, values: Sequence[HorizonValues]
    ) -> None:
        self._write()
        for v in values:
            st = self._s.posts.get((channel_id, v.post_id))
            if st is None:
                continue
            for name, value in attrs.asdict(v).items():
                if name != "post_id" and value is not None:
                    st.horizons[name] = value

    async def add_comments(self, channel_id: ChannelId, comments: Sequence[Comment]) -> None:
        self._write()
        for c in comments:
            self._s.comments.setdefault((channel_id, c.post_id, c.id), c)

    async def comment_stats(
        self, channel_id: ChannelId, post_ids: Collection[PostId]
    ) -> Mapping[PostId, CommentStats]:
        out = {}
        for pid in post_ids:
            items = [c for k, c in self._s.comments.items() if k[:2] == (channel_id, pid)]
            st = self._s.posts.get((channel_id, pid))
            if items and st is not None:
                out[pid] = comment_stats(pid, st.post.date, items)
        return out

    async def set_comment_authors(
        self, channel_id: ChannelId, stats: Sequence[CommentStats]
    ) -> None:
        self._write()
        for s in stats:
            st = self._s.posts[(channel_id, s.post_id)]
            st.users, st.channels = s.users, s.channels

    async def add_followups(self, followups: Sequence[FollowUp]) -> None:
        self._write()
        for f in followups:
            self._s.followups.setdefault(f.key, (f, None))

    async def pending_followups(self, channel_id: ChannelId, now: datetime) -> Sequence[FollowUp]:
        pending = [
            f
            for f, done in self._s.followups.values()
            if f.channel_id == channel_id and done is None and f.due_at > now
        ]
        return sorted(pending, key=lambda f: (f.due_at, f.post_id, f.horizon.value))

    async def mark_followup_scheduled(self, followup: FollowUp, at: datetime) -> None:
        self._write()
        self._s.followups[followup.key] = (followup, at)

    async def unmeasured_followups(
        self, channel_id: ChannelId, due_by: datetime
    ) -> Sequence[FollowUp]:
        due = [
            f
            for key, (f, _) in self._s.followups.items()
            if f.channel_id == channel_id and f.due_at <= due_by and key not in self._s.measured
        ]
        return sorted(due, key=lambda f: (f.due_at, f.post_id, f.horizon.value))

    async def channels_with_unmeasured(
        self, channel_ids: Collection[ChannelId], due_by: datetime
    ) -> set[ChannelId]:
        return {
            f.channel_id
            for key, (f, _) in self._s.followups.items()
            if f.channel_id in channel_ids and f.due_at <= due_by and key not in self._s.measured
        }

    async def mark_followups_measured(
        self, channel_id: ChannelId, measured: Sequence[tuple[FollowUp, datetime]]
    ) -> None:
        self._write()
        for f, at in measured:
            if f.key in self._s.followups:
                late = max(0, math.ceil((at - f.due_at).total_seconds()))
                self._s.measured.setdefault(f.key, (at, late))

    async def add_subscriber_reading(self, reading: SubscriberReading) -> None:
        self._write()
        self._s.subscribers.setdefault((reading.channel_id, reading.taken_at), reading)

    async def last_subscriber_reading_at(self, channel_id: ChannelId) -> datetime | None:
        return max((t for c, t in self._s.subscribers if c == channel_id), default=None)

    async def latest_memberships(
        self, channel_id: ChannelId, user_ids: Collection[UserId]
    ) -> Mapping[UserId, Membership]:
        latest: dict[UserId, Membership] = {}
        for m, _ in self._s.memberships:  # in insertion order: the last one wins
            if m.channel_id == channel_id and m.user.id in user_ids:
                latest[m.user.id] = m
        return latest

    async def save_memberships(
        self, channel_id: ChannelId, episodes: Sequence[Membership], at: datetime
    ) -> None:
        self._write()
        for e in episodes:
            if e.pk is None:
                self._s.memberships.append((attrs.evolve(e, pk=self._pk()), at))
            else:
                i = next(i for i, (m, _) in enumerate(self._s.memberships) if m.pk == e.pk)
                self._s.memberships[i] = (e, at)

    async def advance_admin_log_cursor(self, channel_id: ChannelId, cursor: EventId) -> None:
        self._write()
        ch = await self.get_channel(channel_id)
        if cursor > ch.admin_log_cursor:
            self._s.channels[channel_id] = attrs.evolve(ch, admin_log_cursor=cursor)


class FakeStatRepository(StatRepository):
    """An in-memory StatRepository with real transactions (snapshot/restore) and locks."""

    def __init__(self) -> None:
        self.state = _State()
        self._locked: set[ChannelId] = set()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[StatSession]:
        yield FakeStatSession(self)

    @asynccontextmanager
    async def channel_session(self, channel_id: ChannelId) -> AsyncIterator[StatSession]:
        if channel_id in self._locked:
            raise ChannelBusyError(f"channel {channel_id} is being collected by another run")
        self._locked.add(channel_id)
        try:
            yield FakeStatSession(self)
        finally:
            self._locked.discard(channel_id)

    # -- state, for assertions ---------------------------------------------------
    def post(self, channel_id: ChannelId, post_id: int) -> _Stored:
        return self.state.posts[(channel_id, PostId(post_id))]

    def episodes(self, channel_id: ChannelId) -> list[Membership]:
        return [m for m, _ in self.state.memberships if m.channel_id == channel_id]

    def subscriber_readings(self, channel_id: ChannelId) -> list[SubscriberReading]:
        return [r for (c, _), r in sorted(self.state.subscribers.items()) if c == channel_id]


class FakeGateway(TelegramGateway):
    """A channel held in memory; tests change it between cycles like Telegram would.

    A post deleted in Telegram is one removed from ``posts``: history no longer lists it and
    a read by id reports it deleted (Telegram answers ``MessageEmpty`` for any id it has no
    message for). Reading the thread of a post in ``unreadable_threads`` fails like
    ``MSG_ID_INVALID``; ``subscribers`` is the channel's subscriber count.

    ``fail`` queues exceptions per call kind (``posts``, ``counters``, ``comments``,
    ``admin_log``, ``channel``): the next call of that kind raises the first one.
    """

    def __init__(self, channel: ChannelInfo) -> None:
        self.channel = channel
        self.posts: dict[PostId, Post] = {}
        self.comments: dict[PostId, list[Comment]] = {}
        self.unreadable_threads: set[PostId] = set()
        self.subscribers = 0
        self.events: list[MemberEvent] = []
        self.fail: dict[str, list[Exception]] = {}
        self.requests: Counter[str] = Counter()
        self.counter_batches: list[int] = []

    def _enter(self, kind: str, requests: int = 1) -> None:
        queue = self.fail.get(kind)
        if queue:
            raise queue.pop(0)
        self.requests[kind] += requests

    def request_counts(self) -> Mapping[str, int]:
        return dict(self.requests)

    async def resolve_channel(self, query: str) -> ChannelInfo:
        if query in (self.channel.title, str(self.channel.id)):
            return self.channel
        raise ChannelNotFoundError(f"no channel titled {query!r}")

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        found = [p for pid, p in sorted(self.posts.items()) if pid > (after or 0)]
        self._enter("posts", max(1, -(-len(found) // 100)))
        return found

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError("more than 100 ids in one request")
        self._enter("counters")
        self.counter_batches.append(len(ids))
        return PostsRead(
            posts=tuple(self.posts[i] for i in ids if i in self.posts),
            deleted=frozenset(i for i in ids if i not in self.posts),
        )

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        self._enter("comments")
        post = self.posts.get(post_id)
        if post is None or not post.has_discussion:
            raise NoDiscussionError(f"post {post_id} has no discussion group")
        if post_id in self.unreadable_threads:
            raise ThreadUnreadableError(f"post {post_id}: MSG_ID_INVALID (fake)")
        return [c for c in self.comments.get(post_id, []) if c.id > (after or 0)]

    async def fetch_subscriber_count(self, channel_id: ChannelId) -> int:
        self._enter("channel")
        return self.subscribers

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        found = [e for e in self.events if e.id > after]
        self._enter("admin_log", max(1, -(-len(found) // 100)))
        return found


class FakeScheduler:
    """Records scheduled runs by idempotency key, keeping the first of each key as Prefect
    does (a later run of a known key changes nothing); ``down`` makes it fail."""

    def __init__(self) -> None:
        self.runs: dict[str, FollowUpRun] = {}
        self.calls = 0
        """Every ``schedule`` call, a repeated key included."""
        self.down = False

    async def schedule(self, run: FollowUpRun) -> None:
        if self.down:
            raise SchedulerError("scheduler unreachable (fake)")
        self.calls += 1
        self.runs.setdefault(run.idempotency_key, run)
