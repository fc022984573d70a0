"""Shared by the scale benchmark: many replayed channels behind a few accounts, and a scheduler
that counts the follow-up runs it is asked for."""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from tgstat.adapters.replay import ReplayGateway
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, SessionPk
from tgstat.domain.model import Comment, MemberEvent, Post
from tgstat.ports.gateway import ChannelInfo, ChannelNotFoundError, PostsRead, TelegramGateway
from tgstat.ports.scheduler import Scheduler

T = TypeVar("T")


class AccountGateway(TelegramGateway):
    """One account's view of Telegram: each call goes to the replay gateway of its channel.

    The replay gateways stand in for Telegram, so their CPU is timed apart (``cpu_s``) and
    taken off tgstat's own.
    """

    def __init__(self, gateways: Mapping[ChannelId, ReplayGateway]) -> None:
        self._gateways = dict(gateways)
        self.cpu_s = 0.0

    def _of(self, channel_id: ChannelId) -> ReplayGateway:
        try:
            return self._gateways[channel_id]
        except KeyError:
            raise ChannelNotFoundError(f"channel {channel_id} is not on this account") from None

    async def _timed(self, call: Callable[..., Awaitable[T]], *args: Any) -> T:
        start = time.process_time()
        try:
            return await call(*args)
        finally:
            self.cpu_s += time.process_time() - start

    async def resolve_channel(self, query: str) -> ChannelInfo:
        raise ChannelNotFoundError("the benchmark registers its channels by id")

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        return await self._timed(self._of(channel_id).fetch_new_posts, channel_id, after)

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        return await self._timed(self._of(channel_id).fetch_posts, channel_id, ids)

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        return await self._timed(self._of(channel_id).fetch_comments, channel_id, post_id, after)

    async def fetch_subscriber_count(self, channel_id: ChannelId) -> int:
        return await self._timed(self._of(channel_id).fetch_subscriber_count, channel_id)

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        return await self._timed(self._of(channel_id).fetch_member_events, channel_id, after)

    def request_counts(self) -> Mapping[str, int]:
        start = time.process_time()
        total: Counter[str] = Counter()
        for gateway in self._gateways.values():
            total.update(gateway.request_counts())
        self.cpu_s += time.process_time() - start
        return total


@attrs.frozen
class PlannedRun:
    """A flow run the scheduler created: when it starts and what it covers."""

    at: datetime
    session_pk: SessionPk | None
    """The session of a coalesced run (one per session and minute), measuring every
    follow-up of the session due by ``due_by``; None for a run per follow-up."""
    due_by: datetime
    channel_ids: frozenset[ChannelId]


class CountingScheduler(Scheduler):
    """Takes what the Scheduler port is handed and runs it at its instant (as the replay's
    simulated scheduler does). One run per idempotency key, as Prefect makes: ``runs`` is
    what the scheduler really created. Works with both shapes of the port: a run per
    follow-up (``FollowUp``), or one per session and minute (``FollowUpRun``)."""

    def __init__(self) -> None:
        self.runs: dict[str, PlannedRun] = {}
        self._queue: list[tuple[datetime, str]] = []

    async def schedule(self, run: Any) -> None:
        key = run.idempotency_key
        if key in self.runs:  # Prefect returns the existing run as it is
            return
        if hasattr(run, "instants"):  # FollowUpRun
            planned = PlannedRun(run.at, run.session_pk, run.due_by, frozenset(run.channel_ids))
        else:  # FollowUp
            planned = PlannedRun(run.due_at, None, run.due_at, frozenset({run.channel_id}))
        self.runs[key] = planned
        heapq.heappush(self._queue, (planned.at, key))

    def next_due(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None

    def pop_due(self, until: datetime) -> list[PlannedRun]:
        """The runs due at or before ``until``, taken off the queue."""
        due = []
        while self._queue and self._queue[0][0] <= until:
            due.append(self.runs[heapq.heappop(self._queue)[1]])
        return due

    def count(self, after: datetime, until: datetime) -> int:
        """Runs starting in (after, until]."""
        return sum(after < r.at <= until for r in self.runs.values())


def per_day(count: float, span: timedelta) -> float:
    """A count over ``span`` scaled to 24 hours (activity is uniform over the day)."""
    return count * timedelta(days=1) / span
