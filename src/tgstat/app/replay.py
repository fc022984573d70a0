"""``tgstat replay``: the collection use case over a scripted channel on a simulated clock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import partial

import attrs

from tgstat.adapters.replay import ReplayGateway, Scenario, SimClock, SimScheduler
from tgstat.domain.model import ChannelConfig, SealedSession, SessionStatus
from tgstat.domain.planning import plan_runs
from tgstat.ports.gateway import GatewayError, SessionBannedError
from tgstat.ports.repository import StatRepository, UnknownChannelError
from tgstat.services.collect import CollectPolicy, collect_channel
from tgstat.services.followup import measure_followups


@attrs.frozen
class ReplaySummary:
    runs: int
    failed_runs: int
    requests: dict[str, int]
    retries: int
    posts_new: int
    comments_fetched: int
    events_merged: int
    followups_scheduled: int

    @property
    def requests_total(self) -> int:
        return sum(self.requests.values())

    def to_json(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "failed_runs": self.failed_runs,
            "requests": dict(sorted(self.requests.items())),
            "requests_total": self.requests_total,
            "retries": self.retries,
            "posts_new": self.posts_new,
            "comments_fetched": self.comments_fetched,
            "events_merged": self.events_merged,
            "followups_scheduled": self.followups_scheduled,
        }


async def register(repository: StatRepository, scenario: Scenario) -> None:
    """Add the scenario's channel, and a session row for it, unless already configured."""
    async with repository.session() as s:
        try:
            await s.get_channel(scenario.channel.id)
            return
        except UnknownChannelError:
            pass
        async with s.transaction():
            pk = await s.upsert_session(
                SealedSession(
                    phone_number=f"replay:{scenario.channel.id}",
                    api_id=1,
                    api_hash=b"replay",
                    session_bytes=None,
                    status=SessionStatus.ENABLED,
                )
            )
            await s.upsert_channel(
                ChannelConfig(
                    scenario.channel.id, scenario.channel.title, pk, scenario.channel.username
                )
            )


async def _no_sleep(_seconds: float) -> None:
    """Waits pass in simulated time: the retry happens at the same simulated instant."""


async def replay(
    scenario: Scenario,
    repository: StatRepository,
    policy: CollectPolicy | None = None,
    *,
    narrow_followups: bool = False,
) -> ReplaySummary:
    """Run a collection at every tick and every follow-up up to ``scenario.end``, including
    the follow-ups of this channel the database holds unmeasured (a resumed replay).

    A follow-up and a tick at the same instant make one run. A run that fails on a
    transient gateway error is counted and the replay goes on; a banned session stops it
    (SessionBannedError, after the session was marked banned).

    A run at a follow-up instant off the ticks is the whole collection cycle, as
    docs/scenario-format.md prescribes (the tables it specifies, e.g. ``deleted_at`` "the
    first collection that found them gone", count those runs). ``narrow_followups`` plays
    what a served follow-up run does instead (``measure_followups``: the due posts by id and
    their new comments, nothing else): same horizon values, fewer requests; other columns
    may then differ where that doc counts the follow-up runs as collections.
    """
    await register(repository, scenario)
    clock = SimClock(scenario.start)
    gateway = ReplayGateway(scenario, clock)
    scheduler = await _rebuilt_schedule(repository, scenario)
    ticks = scenario.ticks()
    i = runs = failed = 0
    totals: Counter[str] = Counter()
    while True:
        candidates = [
            t
            for t in (ticks[i] if i < len(ticks) else None, scheduler.next_due())
            if t is not None and t <= scenario.end
        ]
        if not candidates:
            break
        now = min(candidates)
        tick = i < len(ticks) and ticks[i] == now
        if tick:
            i += 1
        scheduler.pop_due(now)
        clock.now = now
        runs += 1
        use_case = (
            measure_followups
            if narrow_followups and not tick
            else partial(collect_channel, scheduler=scheduler)
        )
        try:
            report = await use_case(
                scenario.channel.id,
                repository=repository,
                gateway=gateway,
                now=now,
                policy=policy,
                sleep=_no_sleep,
            )
        except SessionBannedError:
            raise
        except GatewayError:
            failed += 1
            continue
        for key in (
            "posts_new",
            "comments_fetched",
            "events_merged",
            "followups_scheduled",
            "retries",
        ):
            totals[key] += getattr(report, key)
    return ReplaySummary(
        runs=runs,
        failed_runs=failed,
        requests=dict(gateway.request_counts()),
        retries=totals["retries"],
        posts_new=totals["posts_new"],
        comments_fetched=totals["comments_fetched"],
        events_merged=totals["events_merged"],
        followups_scheduled=totals["followups_scheduled"],
    )


async def _rebuilt_schedule(repository: StatRepository, scenario: Scenario) -> SimScheduler:
    """The simulated schedule rebuilt from the database: the follow-ups an earlier,
    interrupted replay planned and never measured run again, as a resumed replay must."""
    scheduler = SimScheduler()
    async with repository.session() as s:
        undone = [
            f
            for f in await s.unmeasured_followups(scenario.channel.id, scenario.end)
            if f.due_at >= scenario.start
        ]
        if not undone:
            return scheduler
        pk = (await s.get_channel(scenario.channel.id)).session_pk
        phone = (await s.get_session(pk)).phone_number
    for run, _ in plan_runs(undone, pk, phone, scenario.start):
        await scheduler.schedule(run)
    return scheduler


def utc_now() -> datetime:
    return datetime.now(UTC)
