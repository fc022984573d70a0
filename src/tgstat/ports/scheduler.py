"""The Scheduler port: extra collection runs at posts' 1 h / 24 h instants, one per
session and minute (docs/design.md 4.3)."""

from __future__ import annotations

from typing import Protocol

from tgstat.domain.errors import TgstatError
from tgstat.domain.planning import FollowUpRun


class SchedulerError(TgstatError):
    """Raised when a follow-up run cannot be scheduled (server down, no deployment)."""


class Scheduler(Protocol):
    """Schedules follow-up runs; the same ``run.idempotency_key`` twice makes one run (the
    second call is a no-op, even when it names other channels: the run reads its work from
    ``stat_followup`` when it starts)."""

    async def schedule(self, run: FollowUpRun) -> None:
        """Schedule a follow-up run of ``run.phone``'s session at ``run.at``.

        Raises SchedulerError when the scheduler cannot take it.
        """
        ...
