"""The collection use case: one cycle for one channel at ``now`` (DESIGN.md 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from tgstat.domain.horizons import Horizon, horizon_values
from tgstat.domain.ids import ChannelId, CommentId, PostId, SessionPk
from tgstat.domain.membership import merge_events
from tgstat.domain.model import ChannelConfig, Comment, CounterSnapshot, Post
from tgstat.domain.planning import (
    comments_to_read,
    new_posts,
    plan_followups,
    plan_refresh,
    refresh_window_start,
)
from tgstat.ports.gateway import NoDiscussionError, SessionBannedError, TelegramGateway
from tgstat.ports.repository import StatRepository, StatSession, TrackedPost
from tgstat.ports.scheduler import Scheduler, SchedulerError
from tgstat.services.retry import Retrier, RetryPolicy, Sleep


@attrs.frozen
class CollectPolicy:
    """Tunables of a collection cycle."""

    tolerance: timedelta = timedelta(minutes=5)
    """A snapshot this close to a horizon instant measures it."""
    rotation_slice: int = 100
    """Older posts (past their horizons) refreshed per cycle, in rotation."""
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)


@attrs.frozen
class CollectReport:
    """What one cycle did."""

    channel_id: ChannelId
    at: datetime
    posts_new: int
    posts_refreshed: int
    comments_fetched: int
    events_merged: int
    followups_scheduled: int
    followups_pending: int
    """Follow-ups still waiting for the scheduler (retried next cycle)."""
    retries: int
    requests: Mapping[str, int]
    scheduler_error: str | None = None


async def collect_channel(
    channel_id: ChannelId,
    *,
    repository: StatRepository,
    gateway: TelegramGateway,
    scheduler: Scheduler,
    now: datetime,
    policy: CollectPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    session_pk: SessionPk | None = None,
) -> CollectReport:
    """Collect one channel at ``now`` under its lock.

    Each step commits on its own, in this order: new posts, counter refresh, horizon
    values, admin log, follow-ups. A failure stops the cycle and keeps what was committed;
    the next cycle catches up (the admin-log cursor only moves with the events it stored).
    A banned session (``session_pk``, by default the channel's own) is marked ``banned``
    before SessionBannedError propagates. Raises ChannelBusyError when another cycle of the
    channel is running.
    """
    policy = policy or CollectPolicy()
    before = dict(gateway.request_counts())
    async with repository.channel_session(channel_id) as session:
        channel = await session.get_channel(channel_id)
        cycle = _Cycle(channel, session, gateway, now, policy, Retrier(policy.retry, sleep))
        try:
            await cycle.run()
        except SessionBannedError as e:
            async with session.transaction():
                await session.mark_session_banned(session_pk or channel.session_pk, _reason(e), now)
            raise
        error, pending = await cycle.schedule_followups(scheduler)
    after = gateway.request_counts()
    return CollectReport(
        channel_id=channel_id,
        at=now,
        posts_new=cycle.posts_new,
        posts_refreshed=cycle.posts_refreshed,
        comments_fetched=cycle.comments_fetched,
        events_merged=cycle.events_merged,
        followups_scheduled=cycle.followups_scheduled,
        followups_pending=pending,
        retries=cycle.call.retries,
        requests={k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)},
        scheduler_error=error,
    )


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


@attrs.define
class _Cycle:
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

    @property
    def cid(self) -> ChannelId:
        return self.channel.channel_id

    async def run(self) -> None:
        fresh = await self.collect_new_posts()
        await self.refresh_posts(exclude={p.id for p in fresh})
        await self.update_horizons()
        await self.merge_admin_log()

    async def collect_new_posts(self) -> list[Post]:
        max_id = await self.s.max_post_id(self.cid)
        fetched = await self.call(self.gateway.fetch_new_posts, self.cid, max_id)
        fresh = new_posts(fetched, max_id)
        await self.store(fresh, {}, new=True)
        self.posts_new = len(fresh)
        return fresh

    async def refresh_posts(self, exclude: set[PostId]) -> None:
        start = refresh_window_start(self.now, self.policy.tolerance)
        recent = [
            t for t in await self.s.tracked_posts(self.cid, since=start) if t.id not in exclude
        ]
        cursor = await self.s.rotation_cursor(self.cid)
        older = await self.s.older_posts(self.cid, start, cursor, self.policy.rotation_slice)
        plan = plan_refresh([t.id for t in recent], older, self.policy.rotation_slice)
        tracked = {t.id: t for t in recent}
        if plan.rotating:
            tracked.update({t.id: t for t in await self.s.tracked_posts(self.cid, plan.rotating)})
        for ids in plan.requests:
            posts = await self.call(self.gateway.fetch_posts, self.cid, ids)
            await self.store(posts, tracked, new=False)
            self.posts_refreshed += len(posts)
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
        comments, posts = await self.read_comments(posts, tracked)
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
            if new:
                await self.s.add_followups(plan_followups(self.cid, posts, self.now))

    async def read_comments(
        self, posts: Sequence[Post], tracked: Mapping[PostId, TrackedPost]
    ) -> tuple[list[Comment], list[Post]]:
        counts = {pid: t.comments for pid, t in tracked.items()}
        comments: list[Comment] = []
        without: set[PostId] = set()
        for post in comments_to_read(counts, posts):
            last = tracked[post.id].last_comment_id if post.id in tracked else None
            after = None if last is None else CommentId(last)
            try:
                comments += await self.call(self.gateway.fetch_comments, self.cid, post.id, after)
            except NoDiscussionError:
                without.add(post.id)
        self.comments_fetched += len(comments)
        if without:
            posts = [attrs.evolve(p, has_discussion=False) if p.id in without else p for p in posts]
        return comments, list(posts)

    async def update_horizons(self) -> None:
        tol = self.policy.tolerance
        window = await self.s.tracked_posts(self.cid, since=refresh_window_start(self.now, tol))
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
        stats = await self.s.comment_stats(self.cid, measured)
        values = [
            horizon_values(
                t.id, t.date, snaps.get(t.id, ()), stats.get(t.id), t.has_discussion, self.now, tol
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
