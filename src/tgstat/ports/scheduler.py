"""The Scheduler port: extra collection runs at a post's 1 h / 24 h instants."""

from __future__ import annotations

from typing import Protocol

from tgstat.domain.errors import TgstatError
from tgstat.domain.planning import FollowUp


class SchedulerError(TgstatError):
    """Raised when a follow-up cannot be scheduled (server down, no deployment)."""


class Scheduler(Protocol):
    """Schedules follow-up collections; scheduling the same follow-up twice makes one run."""

    async def schedule(self, followup: FollowUp) -> None:
        """Schedule a collection of ``followup.channel_id`` at ``followup.due_at``."""
        ...
