"""One collection cycle of one channel, step by step (docs/design.md 4.4): the work behind
``collect_channel``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from tgstat.domain.horizons import Horizon, closest_snapshot, horizon_values
from tgstat.domain.ids import ChannelId, CommentId, PostId
from tgstat.domain.membership import merge_events
from tgstat.domain.model import ChannelConfig, Comment, CounterSnapshot, Post, SubscriberReading
from tgstat.domain.planning import (
    THREAD_RETRY,
    FollowUp,
    comments_to_read,
    new_posts,
    plan_followups,
    plan_refresh,
    refresh_window_start,
)
from tgstat.ports.gateway import (
    GatewayError,
    NoDiscussionError,
    SessionBannedError,
    TelegramGateway,
    ThreadUnreadableError,
)
from tgstat.ports.repository import StatSession, TrackedPost
from tgstat.ports.scheduler import Scheduler, SchedulerError
from tgstat.services.retry import Retrier, RetryPolicy


@attrs.frozen
class CollectPolicy:
    """Tunables of a collection cycle."""

    tolerance: timedelta = timedelta(minutes=5)
    """A snapshot this close to a horizon instant measures it."""
    rotation_slice: int = 100
    """Older posts (past their horizons) refreshed per cycle, in rotation."""
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    subscribers_every: timedelta = timedelta(hours=1)
    """The subscriber count (channels.getFullChannel) is read at most this often."""
    thread_retry: timedelta = THREAD_RETRY
    """A comment thread Telegram refused to read is tried again at most this often."""


def reason(e: Exception) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


@attrs.define
class Cycle:
    """The state of one cycle: its steps, and what they did (for the report)."""

    channel: ChannelConfig
    s: StatSession
    gateway: TelegramGateway
    now: datetime
    policy: CollectPolicy
    call: Retrier
    posts_new: int = 0
    posts_refreshed: int = 0
    comments_fetched: int = 0
    events_merged: int = 0
    followups_scheduled: int = 0
    posts_deleted: int = 0
    threads_unreadable: int = 0
    subscribers: int | None = None
    subscribers_error: str | None = None
    followups_late: int = 0
    threads_read: set[PostId] = attrs.field(factory=set)
    """Posts whose comment thread is known complete this cycle: their comment horizons are
    exact from the stored comments' dates, however late the post was first seen."""

    @property
    def cid(self) -> ChannelId:
        return self.channel.channel_id

    async def run(self) -> None:
        # Follow-ups whose instant has come and that no collection measured yet: their run
        # may be this one, or it never happened (cancelled, crashed, lost with Prefect's
        # database). This cycle reads their posts and measures them, late if need be.
        due = await self.s.unmeasured_followups(self.cid, due_by=self.now)
        fresh = await self.collect_new_posts()
        await self.refresh_posts(exclude={p.id for p in fresh}, due={f.post_id for f in due})
        await self.update_horizons(due={f.post_id for f in due})
        await self.settle_followups(due)
        await self.merge_admin_log()
        await self.read_subscribers()

    async def collect_new_posts(self) -> list[Post]:
        max_id = await self.s.max_post_id(self.cid)
        fetched = await self.call(self.gateway.fetch_new_posts, self.cid, max_id)
        fresh = new_posts(fetched, max_id)
        await self.store(fresh, {}, new=True)
        self.posts_new = len(fresh)
        return fresh

    async def refresh_posts(self, exclude: set[PostId], due: set[PostId]) -> None:
        start = refresh_window_start(self.now, self.policy.tolerance)
        recent = [
            t for t in await self.s.tracked_posts(self.cid, since=start) if t.id not in exclude
        ]
        overdue = due - exclude - {t.id for t in recent}
        if overdue:  # past the window: their follow-up is measured now, late
            recent += await self.s.tracked_posts(self.cid, overdue)
        cursor = await self.s.rotation_cursor(self.cid)
        older = await self.s.older_posts(self.cid, start, cursor, self.policy.rotation_slice)
        plan = plan_refresh([t.id for t in recent], older, self.policy.rotation_slice)
        tracked = {t.id: t for t in recent}
        if plan.rotating:
            tracked.update({t.id: t for t in await self.s.tracked_posts(self.cid, plan.rotating)})
        for ids in plan.requests:
            read = await self.call(self.gateway.fetch_posts, self.cid, ids)
            await self.store(read.posts, tracked, new=False)
            self.posts_refreshed += len(read.posts)
            if read.deleted:
                # kept with their last counters; never asked for again (docs/design.md 4.5)
                async with self.s.transaction():
                    await self.s.mark_deleted(self.cid, read.deleted, self.now)
                self.posts_deleted += len(read.deleted)
        async with self.s.transaction():
            await self.s.set_rotation_cursor(self.cid, plan.next_rotation_cursor)

    async def store(
        self, posts: Sequence[Post], tracked: Mapping[PostId, TrackedPost], *, new: bool
    ) -> None:
        """Read changed comment threads, then commit posts, counters and comments at once.

        Committing them together means a failed comment read leaves the stored count
        unchanged, so the next cycle sees the change again and reads the thread.
        """
        if not posts:
            return
        comments, posts, unreadable, readable = await self.read_comments(posts, tracked)
        async with self.s.transaction():
            await self.s.upsert_posts(self.cid, posts, self.now)
            await self.s.add_snapshots(self.cid, [_snapshot(p, self.now) for p in posts])
            await self.s.replace_reactions(
                self.cid,
                {p.id: p.counters.reactions for p in posts if p.counters.reactions is not None},
                self.now,
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

    async def update_horizons(self, due: set[PostId]) -> None:
        tol = self.policy.tolerance
        window = await self.s.tracked_posts(self.cid, since=refresh_window_start(self.now, tol))
        # first seen (or read again) after their horizons: comments are exact; and posts
        # of follow-ups measured late
        late = (self.threads_read | due) - {t.id for t in window}
        if late:
            window = [*window, *await self.s.tracked_posts(self.cid, late)]
        instants = [
            (t.id, h.instant(t.date))
            for t in window
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
            for t in window
            if t.id in measured
        ]
        async with self.s.transaction():
            await self.s.set_horizon_values(self.cid, [v for v in values if not v.is_empty])

    async def merge_admin_log(self) -> None:
        cursor = self.channel.admin_log_cursor
        events = await self.call(self.gateway.fetch_member_events, self.cid, cursor)
        if not events:
            return
        latest = await self.s.latest_memberships(self.cid, {e.user.id for e in events})
        result = merge_events(self.cid, latest, events, cursor)
        async with self.s.transaction():
            await self.s.save_memberships(self.cid, result.episodes, self.now)
            await self.s.advance_admin_log_cursor(self.cid, result.cursor)
        self.events_merged = result.applied

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

    async def read_subscribers(self) -> None:
        """Read the subscriber count when the last reading is ``subscribers_every`` old.

        This step fails alone: a gateway error (after retries) is reported, not raised,
        except a banned session, which ends the cycle like any other step.
        """
        last = await self.s.last_subscriber_reading_at(self.cid)
        if last is not None and self.now - last < self.policy.subscribers_every:
            return
        try:
            count = await self.call(self.gateway.fetch_subscriber_count, self.cid)
        except SessionBannedError:
            raise
        except GatewayError as e:
            self.subscribers_error = reason(e)
            return
        async with self.s.transaction():
            await self.s.add_subscriber_reading(SubscriberReading(self.cid, self.now, count))
        self.subscribers = count

    async def schedule_followups(self, scheduler: Scheduler) -> tuple[str | None, int]:
        """Hand pending follow-ups to the scheduler; on failure keep them for next cycle.

        Returns the scheduler's error, if any, and how many follow-ups are still pending.
        """
        pending = list(await self.s.pending_followups(self.cid, self.now))
        for followup in pending:
            try:
                await scheduler.schedule(followup)
            except SchedulerError as e:
                return str(e), len(pending) - self.followups_scheduled
            async with self.s.transaction():
                await self.s.mark_followup_scheduled(followup, self.now)
            self.followups_scheduled += 1
        return None, 0


def _snapshot(post: Post, now: datetime) -> CounterSnapshot:
    # Every snapshot of a cycle is stamped with the cycle's instant: follow-ups run exactly
    # at horizon instants, so their snapshots measure the horizon exactly.
    c = post.counters
    return CounterSnapshot(post.id, now, c.views, c.forwards, c.reactions_total, c.comments)
