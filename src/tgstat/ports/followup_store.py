"""The FollowUpStore port: horizon follow-ups waiting to be handed to the scheduler."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from tgstat.domain.ids import ChannelId
from tgstat.domain.planning import FollowUp


class FollowUpStore(Protocol):
    """Follow-ups keyed by (channel, post, horizon), and by (channel, album, horizon) for an
    album (one per album and instant), with when the scheduler took them."""

    async def add_followups(self, followups: Sequence[FollowUp]) -> None:
        """Record follow-ups to schedule; one already recorded is left as it is."""
        ...

    async def pending_followups(self, channel_id: ChannelId, now: datetime) -> Sequence[FollowUp]:
        """Follow-ups due after ``now`` that the scheduler has not accepted yet."""
        ...

    async def mark_followup_scheduled(self, followup: FollowUp, at: datetime) -> None: ...

    async def unmeasured_followups(
        self, channel_id: ChannelId, due_by: datetime
    ) -> Sequence[FollowUp]:
        """Follow-ups due at or before ``due_by`` that no collection measured yet, by due
        time: handed to the scheduler or not, their run may never have happened."""
        ...

    async def channels_with_unmeasured(
        self, channel_ids: Collection[ChannelId], due_by: datetime
    ) -> set[ChannelId]:
        """Which of ``channel_ids`` have a follow-up due at or before ``due_by`` that no
        collection measured yet: the work of a follow-up run, found in one query."""
        ...

    async def mark_followups_measured(
        self, channel_id: ChannelId, measured: Sequence[tuple[FollowUp, datetime]]
    ) -> None:
        """Record when each follow-up's instant was measured (``late_by_s`` is how long
        after its due time, 0 when not after); a measured one is never reported again."""
        ...
