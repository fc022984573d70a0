"""The collection use case: one cycle for one channel at ``now`` (docs/design.md 4)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

import attrs

from tgstat.domain.ids import ChannelId, SessionPk
from tgstat.ports.gateway import SessionBannedError, TelegramGateway
from tgstat.ports.repository import StatRepository
from tgstat.ports.scheduler import Scheduler
from tgstat.services.cycle import CollectPolicy, Cycle, reason
from tgstat.services.retry import Retrier, Sleep

__all__ = ["CollectPolicy", "CollectReport", "collect_channel"]


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
    posts_deleted: int = 0
    """Posts found deleted by this cycle (``deleted_at`` set)."""
    threads_unreadable: int = 0
    """Comment threads Telegram refused to read this cycle (retried later)."""
    subscribers: int | None = None
    """The subscriber count read this cycle; None when not due or the read failed."""
    subscribers_error: str | None = None
    """Why the subscriber read failed; the rest of the cycle is kept."""
    followups_late: int = 0
    """Follow-ups whose run never measured their instant, measured late by this cycle."""
    followups_measured: int = 0
    """Follow-ups this run marked measured (on time, or late)."""


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
    values, admin log, subscriber count, the channel's last completed cycle
    (``last_collected_at``), follow-ups. A failure stops the cycle and keeps
    what was committed; the next cycle catches up (the admin-log cursor only moves with the
    events it stored). The subscriber count fails alone: its error is reported in
    ``subscribers_error`` and the cycle goes on.
    A banned session (``session_pk``, by default the channel's own) is marked ``banned``
    before SessionBannedError propagates. Raises ChannelBusyError when another cycle of the
    channel is running.
    """
    policy = policy or CollectPolicy()
    before = dict(gateway.request_counts())
    async with repository.channel_session(channel_id) as session:
        channel = await session.get_channel(channel_id)
        cycle = Cycle(channel, session, gateway, now, policy, Retrier(policy.retry, sleep))
        try:
            await cycle.run()
        except SessionBannedError as e:
            async with session.transaction():
                await session.mark_session_banned(session_pk or channel.session_pk, reason(e), now)
            raise
        async with session.transaction():
            await session.mark_collected(channel_id, now)
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
        posts_deleted=cycle.posts_deleted,
        threads_unreadable=cycle.threads_unreadable,
        subscribers=cycle.subscribers,
        subscribers_error=cycle.subscribers_error,
        followups_late=cycle.followups_late,
        followups_measured=cycle.followups_measured,
    )
