"""The ChannelStore port: the channels configured for collection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tgstat.domain.ids import ChannelId
from tgstat.domain.model import ChannelConfig


class ChannelStore(Protocol):
    """Configured channels and the session each is collected with."""

    async def upsert_channel(self, channel: ChannelConfig) -> None:
        """Insert the channel, or update its name, username and session: never duplicates."""
        ...

    async def get_channel(self, channel_id: ChannelId) -> ChannelConfig:
        """Raise UnknownChannelError when absent."""
        ...

    async def list_channels(self) -> Sequence[ChannelConfig]: ...

    async def mark_collected(self, channel_id: ChannelId, at: datetime) -> None:
        """Record ``at`` (the cycle's instant) as the channel's last completed cycle; an
        earlier instant than the stored one leaves it (replays and late runs interleave)."""
        ...
