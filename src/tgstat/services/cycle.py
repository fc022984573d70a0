"""One collection cycle of one channel, step by step (docs/design.md 4.4): the work behind
``collect_channel``."""

from __future__ import annotations

import attrs

from tgstat.domain.ids import PostId
from tgstat.domain.membership import merge_events
from tgstat.domain.model import Post, SubscriberReading
from tgstat.domain.planning import new_posts, plan_refresh, plan_runs, refresh_window_start
from tgstat.ports.gateway import GatewayError, SessionBannedError
from tgstat.ports.repository import TrackedPost
from tgstat.ports.scheduler import Scheduler, SchedulerError
from tgstat.services.measure import CollectPolicy, Measure, reason

__all__ = ["CollectPolicy", "Cycle", "reason"]


@attrs.define
class Cycle(Measure):
    """The state of one cycle: its steps, and what they did (for the report)."""

    posts_new: int = 0
    events_merged: int = 0
    followups_scheduled: int = 0
    subscribers: int | None = None
    subscribers_error: str | None = None

    async def run(self) -> None:
        # Follow-ups whose instant has come and that no collection measured yet: their run
        # may be this one, or it never happened (cancelled, crashed, lost with Prefect's
        # database). This cycle reads their posts and measures them, late if need be.
        due = await self.s.unmeasured_followups(self.cid, due_by=self.now)
        fresh = await self.collect_new_posts()
        await self.refresh_posts(exclude={p.id for p in fresh}, due={f.post_id for f in due})
        await self.update_horizons(await self.horizon_window(due={f.post_id for f in due}))
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
        settled: set[PostId] = set()
        if not self.policy.snapshot_unchanged:
            settled = set(plan.rotating) - {t.id for t in recent}
        await self.read_by_id([i for ids in plan.requests for i in ids], tracked, settled)
        async with self.s.transaction():
            await self.s.set_rotation_cursor(self.cid, plan.next_rotation_cursor)

    async def horizon_window(self, due: set[PostId]) -> list[TrackedPost]:
        """Posts whose horizon values this cycle (re)computes: those inside their horizons,
        those first seen (or read again) after them, whose comments are exact, and the
        posts of follow-ups measured late."""
        start = refresh_window_start(self.now, self.policy.tolerance)
        window = list(await self.s.tracked_posts(self.cid, since=start))
        late = (self.threads_read | due) - {t.id for t in window}
        if late:
            window += await self.s.tracked_posts(self.cid, late)
        return window

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
        """Hand pending follow-ups to the scheduler, one run per session and minute
        (``plan_runs``); on failure keep them for the next cycle.

        Returns the scheduler's error, if any, and how many follow-ups are still pending.
        """
        pending = list(await self.s.pending_followups(self.cid, self.now))
        if not pending:
            return None, 0
        pk = self.channel.session_pk
        phone = (await self.s.get_session(pk)).phone_number
        for run, members in plan_runs(pending, pk, phone, self.now):
            try:
                await scheduler.schedule(run)
            except SchedulerError as e:
                return str(e), len(pending) - self.followups_scheduled
            async with self.s.transaction():
                for followup in members:
                    await self.s.mark_followup_scheduled(followup, self.now)
            self.followups_scheduled += len(members)
        return None, 0
