"""Time for a replay: the simulated clock and scheduler, or the wall clock for a dry run."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from typing import Protocol

import attrs

from tgstat.domain.ids import ChannelId
from tgstat.domain.planning import FollowUp
from tgstat.ports.scheduler import Scheduler


class Clock(Protocol):
    @property
    def now(self) -> datetime: ...


@attrs.define
class SimClock:
    """The simulated time of a replay."""

    now: datetime


class WallClock:
    """Real time, for serving a scenario as if it were a live channel (a dry run)."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimScheduler(Scheduler):
    """Keeps follow-ups in a queue; the replay runs them at their instants.

    The same idempotency key twice schedules one run (one per post, or per album, and
    horizon: ``FollowUp.idempotency_key``).
    """

    def __init__(self) -> None:
        self._queue: list[tuple[datetime, str, ChannelId]] = []
        self._keys: set[str] = set()

    async def schedule(self, followup: FollowUp) -> None:
        if followup.idempotency_key in self._keys:
            return
        self._keys.add(followup.idempotency_key)
        heapq.heappush(
            self._queue, (followup.due_at, followup.idempotency_key, followup.channel_id)
        )

    def pop_due(self, until: datetime) -> list[datetime]:
        """Remove and return the instants of follow-ups due at or before ``until``."""
        due = []
        while self._queue and self._queue[0][0] <= until:
            due.append(heapq.heappop(self._queue)[0])
        return due

    def next_due(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None
