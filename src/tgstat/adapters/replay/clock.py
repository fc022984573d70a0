"""Time for a replay: the simulated clock and scheduler, or the wall clock for a dry run."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from typing import Protocol

import attrs

from tgstat.domain.planning import FollowUpRun
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
    """Keeps follow-up runs in a queue; the replay runs them at their instants.

    The replay runs a collection exactly at every instant a run carries
    (docs/scenario-format.md: "a simulated scheduler runs those exactly at the scheduled
    instant"), so an instant planned twice, or by several runs, is run once. Prefect, by
    contrast, makes one run per session and minute (``FollowUpRun.idempotency_key``).
    """

    def __init__(self) -> None:
        self._queue: list[datetime] = []
        self._instants: set[datetime] = set()
        self.runs: dict[str, FollowUpRun] = {}
        """Every run handed over, by idempotency key (the first one of each key)."""

    async def schedule(self, run: FollowUpRun) -> None:
        self.runs.setdefault(run.idempotency_key, run)
        for instant in run.instants:
            if instant not in self._instants:
                self._instants.add(instant)
                heapq.heappush(self._queue, instant)

    def pop_due(self, until: datetime) -> list[datetime]:
        """Remove and return the instants due at or before ``until``."""
        due = []
        while self._queue and self._queue[0] <= until:
            due.append(heapq.heappop(self._queue))
        return due

    def next_due(self) -> datetime | None:
        return self._queue[0] if self._queue else None
