"""The MembershipStore port: membership episodes of channel users and the admin-log cursor."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from tgstat.domain.ids import ChannelId, EventId, UserId
from tgstat.domain.model import Membership


class MembershipStore(Protocol):
    """Join/leave episodes per (channel, user) and how far the admin log has been read."""

    async def latest_memberships(
        self, channel_id: ChannelId, user_ids: Collection[UserId]
    ) -> Mapping[UserId, Membership]:
        """The latest episode of each given user that has one."""
        ...

    async def save_memberships(
        self, channel_id: ChannelId, episodes: Sequence[Membership], at: datetime
    ) -> None:
        """Update episodes with a pk, insert those without; ``timestamp`` becomes ``at``."""
        ...

    async def advance_admin_log_cursor(self, channel_id: ChannelId, cursor: EventId) -> None:
        """Move the cursor forward; a lower value than the stored one is ignored."""
        ...
