"""The follow-up run of one channel: measure its due horizon instants, and nothing else
(docs/design.md 4.3). The regular cycle does the rest (history, admin log, subscribers)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import attrs

from tgstat.domain.ids import ChannelId, PostId, SessionPk
from tgstat.domain.planning import FollowUp
from tgstat.ports.gateway import SessionBannedError, TelegramGateway
from tgstat.ports.repository import StatRepository
from tgstat.services.collect import CollectReport
from tgstat.services.measure import CollectPolicy, Measure, reason
from tgstat.services.retry import Retrier, Sleep

__all__ = ["FollowUpPass", "measure_followups"]


@attrs.define
class FollowUpPass(Measure):
    """Reads the posts of the due follow-ups (an album's every message) by id, with their
    new comments, and measures the follow-ups' instants."""

    async def run(self, due: list[FollowUp]) -> None:
        ids = sorted({f.post_id for f in due} | set(await self.album_members(due)))
        tracked = {t.id: t for t in await self.s.tracked_posts(self.cid, ids)}
        # deleted posts are left out: never asked for again; their horizons stay NULL
        await self.read_by_id(sorted(tracked), tracked)
        await self.update_horizons(await self.s.tracked_posts(self.cid, ids))
        # One due later in the run's minute (added after the run was planned) got its
        # snapshot now, early; the next run or cycle settles it and sets its horizon.
        await self.settle_followups([f for f in due if f.due_at <= self.now])

    async def album_members(self, due: list[FollowUp]) -> list[PostId]:
        albums = {f.grouped_id for f in due if f.grouped_id is not None}
        return list(await self.s.album_post_ids(self.cid, albums)) if albums else []


async def measure_followups(
    channel_id: ChannelId,
    *,
    repository: StatRepository,
    gateway: TelegramGateway,
    now: datetime,
    due_by: datetime | None = None,
    policy: CollectPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    session_pk: SessionPk | None = None,
) -> CollectReport:
    """Measure the channel's follow-ups due at or before ``due_by`` (default ``now``) that
    no collection measured yet, under the channel's lock, at ``now``.

    Telegram requests: one channels.getMessages per 100 posts of due follow-ups (an album
    counts its every message), plus one messages.getReplies per post whose comment count
    changed since the last read (per 100 new comments): what the comment horizons need to
    be exact. Nothing when nothing is due. A follow-up due after ``now`` (later in the
    run's minute) gets a snapshot now and is settled by the next run or cycle.

    Raises ChannelBusyError when a cycle of the channel is running (it measures the due
    follow-ups itself), gateway errors after retries; a banned session (``session_pk``, by
    default the channel's own) is marked ``banned`` before SessionBannedError propagates.
    """
    policy = policy or CollectPolicy()
    before = dict(gateway.request_counts())
    async with repository.channel_session(channel_id) as s:
        channel = await s.get_channel(channel_id)
        due = list(await s.unmeasured_followups(channel.channel_id, due_by or now))
        run = FollowUpPass(channel, s, gateway, now, policy, Retrier(policy.retry, sleep))
        if due:
            try:
                await run.run(due)
            except SessionBannedError as e:
                async with s.transaction():
                    await s.mark_session_banned(session_pk or channel.session_pk, reason(e), now)
                raise
    after = gateway.request_counts()
    return CollectReport(
        channel_id=channel.channel_id,
        at=now,
        posts_new=0,
        posts_refreshed=run.posts_refreshed,
        comments_fetched=run.comments_fetched,
        events_merged=0,
        followups_scheduled=0,
        followups_pending=0,
        retries=run.call.retries,
        requests={k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)},
        posts_deleted=run.posts_deleted,
        threads_unreadable=run.threads_unreadable,
        followups_late=run.followups_late,
        followups_measured=run.followups_measured,
    )
