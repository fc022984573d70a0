"""Steps shared by a collection cycle and a follow-up run: reading stored posts by id,
storing what was read, horizon values and settling follow-ups (docs/design.md 4.2-4.5)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from tgstat.domain.horizons import Horizon, closest_snapshot, horizon_values
from tgstat.domain.ids import ChannelId, CommentId, PostId
from tgstat.domain.model import ChannelConfig, Comment, Post
from tgstat.domain.planning import (
    THREAD_RETRY,
    FollowUp,
    batches,
    comments_to_read,
    plan_followups,
)
from tgstat.domain.snapshots import Counters, counters_of, snapshot_of, worth_a_snapshot
from tgstat.ports.gateway import NoDiscussionError, TelegramGateway, ThreadUnreadableError
from tgstat.ports.repository import StatSession, TrackedPost
from tgstat.services.retry import Retrier, RetryPolicy


@attrs.frozen
class CollectPolicy:
    """Tunables of a collection cycle."""

    tolerance: timedelta = timedelta(minutes=5)
    """A snapshot this close to a horizon instant measures it."""
    rotation_slice: int = 100
    """Older posts (past their horizons) refreshed per cycle, in rotation."""
    snapshot_unchanged: bool = False
    """Store a counter snapshot of an older post at every rotation read, changed or not
    (the behaviour before; ``bench/scale.py --snapshot-unchanged`` measures it)."""
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    subscribers_every: timedelta = timedelta(hours=1)
    """The subscriber count (channels.getFullChannel) is read at most this often."""
    thread_retry: timedelta = THREAD_RETRY
    """A comment thread Telegram refused to read is tried again at most this often."""


def reason(e: Exception) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


@attrs.define
class Measure:
    """One channel's reads and writes at ``now`` and what they did (for the report)."""

    channel: ChannelConfig
    s: StatSession
    gateway: TelegramGateway
    now: datetime
    policy: CollectPolicy
    call: Retrier
    posts_refreshed: int = 0
    comments_fetched: int = 0
    posts_deleted: int = 0
    threads_unreadable: int = 0
    followups_late: int = 0
    followups_measured: int = 0
    threads_read: set[PostId] = attrs.field(factory=set)
    """Posts whose comment thread is known complete this cycle: their comment horizons are
    exact from the stored comments' dates, however late the post was first seen."""

    @property
    def cid(self) -> ChannelId:
        return self.channel.channel_id

    @property
    def replaying_past(self) -> bool:
        """The channel was collected later than ``now``: the same scenario replayed again
        into one database (a rerun changes nothing but ``timestamp`` columns)."""
        return (self.channel.last_collected_at or self.now) > self.now

    async def read_by_id(
        self,
        ids: Sequence[PostId],
        tracked: Mapping[PostId, TrackedPost],
        settled: Collection[PostId] = (),
    ) -> None:
        """Read the given stored posts (channels.getMessages, 100 ids a request) and store
        them; ids Telegram answers empty for are marked deleted, never asked for again.
        ``settled``: posts past their horizons, snapshotted only when a counter changed."""
        for chunk in batches(ids):
            read = await self.call(self.gateway.fetch_posts, self.cid, chunk)
            await self.store(read.posts, tracked, new=False, settled=settled)
            self.posts_refreshed += len(read.posts)
            if read.deleted:
                # kept with their last counters; never asked for again (docs/design.md 4.5)
                async with self.s.transaction():
                    await self.s.mark_deleted(self.cid, read.deleted, self.now)
                self.posts_deleted += len(read.deleted)

    async def store(
        self,
        posts: Sequence[Post],
        tracked: Mapping[PostId, TrackedPost],
        *,
        new: bool,
        settled: Collection[PostId] = (),
    ) -> None:
        """Read changed comment threads, then commit posts, counters and comments at once.

        Committing them together means a failed comment read leaves the stored count
        unchanged, so the next cycle sees the change again and reads the thread. A post in
        ``settled`` (past its horizons, read by the rotation) gets a counter snapshot only
        when a counter Telegram reported differs from the stored one: its series keeps every
        change, and an unchanged read costs no row (docs/design.md 4.4).
        """
        if not posts:
            return
        comments, posts, unreadable, readable = await self.read_comments(posts, tracked)
        last = await self.last_counters([p.id for p in posts if p.id in settled], tracked)
        snapshots = [snapshot_of(p, self.now) for p in worth_a_snapshot(posts, last)]
        async with self.s.transaction():
            await self.s.upsert_posts(self.cid, posts, self.now)
            await self.s.add_snapshots(self.cid, snapshots)
            await self.s.replace_reactions(
                self.cid,
                {p.id: p.counters.reactions for p in posts if p.counters.reactions is not None},
                self.now,
                keep_absent=self.replaying_past,
            )
            if comments:
                await self.s.add_comments(self.cid, comments)
                stats = await self.s.comment_stats(self.cid, {c.post_id for c in comments})
                await self.s.set_comment_authors(self.cid, list(stats.values()))
            if unreadable:
                await self.s.set_thread_unreadable(self.cid, unreadable, self.now)
            if readable:
                await self.s.set_thread_unreadable(self.cid, readable, None)
            if new:
                await self.s.add_followups(plan_followups(self.cid, posts, self.now))
        self.threads_read.update(readable)
        if new:  # a new post with a discussion and no comment: its thread is complete
            self.threads_read.update(
                p.id for p in posts if p.has_discussion and p.counters.comments == 0
            )

    async def last_counters(
        self, ids: Sequence[PostId], tracked: Mapping[PostId, TrackedPost]
    ) -> dict[PostId, Counters | None]:
        """The counters of each post's last snapshot at or before ``now`` (None: none).

        Going forward in time that is the stored row (every change was snapshotted). When
        the channel was collected later than ``now`` (the same scenario replayed again into
        one database), rows and snapshots may be of other instants: the snapshots are asked,
        so a second replay adds no row.
        """
        known = [i for i in ids if i in tracked]
        past = self.replaying_past
        rewound = {i for i in known if past or (tracked[i].read_at or self.now) > self.now}
        last: dict[PostId, Counters | None] = {
            i: _stored(tracked[i]) for i in known if i not in rewound
        }
        if rewound:
            around = await self.s.snapshots_around(self.cid, [(i, self.now) for i in rewound])
            for i in rewound:
                before = [s for s in around.get(i, ()) if s.taken_at <= self.now]
                last[i] = counters_of(before[-1]) if before else None
        return last

    async def read_comments(
        self, posts: Sequence[Post], tracked: Mapping[PostId, TrackedPost]
    ) -> tuple[list[Comment], list[Post], set[PostId], set[PostId]]:
        """Read the threads due (``comments_to_read``): (comments, the posts, ids whose
        thread Telegram refused to read, ids whose thread was read completely)."""
        counts = {pid: t.comments for pid, t in tracked.items()}
        failed_at = {
            pid: t.thread_unreadable_at
            for pid, t in tracked.items()
            if t.thread_unreadable_at is not None
        }
        comments: list[Comment] = []
        without: set[PostId] = set()
        unreadable: set[PostId] = set()
        readable: set[PostId] = set()
        due = comments_to_read(
            counts,
            posts,
            unreadable_since=failed_at,
            now=self.now,
            retry_every=self.policy.thread_retry,
        )
        for post in due:
            last = tracked[post.id].last_comment_id if post.id in tracked else None
            after = None if last is None else CommentId(last)
            try:
                comments += await self.call(self.gateway.fetch_comments, self.cid, post.id, after)
            except NoDiscussionError:
                without.add(post.id)
            except ThreadUnreadableError:
                unreadable.add(post.id)
            else:
                readable.add(post.id)
        self.comments_fetched += len(comments)
        self.threads_unreadable += len(unreadable)
        if without:
            posts = [attrs.evolve(p, has_discussion=False) if p.id in without else p for p in posts]
        return comments, list(posts), unreadable, readable

    async def update_horizons(self, posts: Sequence[TrackedPost]) -> None:
        """Set the horizon values of ``posts`` whose instants have come (the snapshot
        closest to each instant within the tolerance; comments by date)."""
        tol = self.policy.tolerance
        instants = [
            (t.id, h.instant(t.date))
            for t in posts
            for h in Horizon
            if h.instant(t.date) <= self.now
        ]
        if not instants:
            return
        measured = {pid for pid, _ in instants}
        snaps = await self.s.snapshots_near(self.cid, instants, tol)
        unmeasured = [
            (pid, instant)
            for pid, instant in instants
            if closest_snapshot(snaps.get(pid, ()), instant, tol) is None
        ]
        around = await self.s.snapshots_around(self.cid, unmeasured) if unmeasured else {}
        stats = await self.s.comment_stats(self.cid, measured)
        values = [
            horizon_values(
                t.id,
                t.date,
                snaps.get(t.id, ()),
                stats.get(t.id),
                t.has_discussion,
                self.now,
                tol,
                thread_readable=t.thread_unreadable_at is None,
                around=around.get(t.id, ()),
            )
            for t in posts
            if t.id in measured
        ]
        async with self.s.transaction():
            await self.s.set_horizon_values(self.cid, [v for v in values if not v.is_empty])

    async def settle_followups(self, due: Sequence[FollowUp]) -> None:
        """Mark the due follow-ups measured: by the snapshot within the tolerance of their
        instant, or, once that window has passed without one, by this cycle (late: the
        horizon stays NULL unless the snapshots around the instant fix it)."""
        if not due:
            return
        tol = self.policy.tolerance
        snaps = await self.s.snapshots_near(self.cid, [(f.post_id, f.due_at) for f in due], tol)
        measured = []
        for f in due:
            snap = closest_snapshot(snaps.get(f.post_id, ()), f.due_at, tol)
            if snap is not None:
                measured.append((f, snap.taken_at))
            elif self.now > f.due_at + tol:
                measured.append((f, self.now))
                self.followups_late += 1
        if measured:
            async with self.s.transaction():
                await self.s.mark_followups_measured(self.cid, measured)
        self.followups_measured += len(measured)


def _stored(t: TrackedPost) -> Counters:
    return (t.views, t.forwards, t.reactions, t.comments)
