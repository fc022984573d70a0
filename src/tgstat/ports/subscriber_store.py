"""The SubscriberStore port: the subscriber count over time (``stat_channel_snapshot``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tgstat.domain.ids import ChannelId
from tgstat.domain.model import SubscriberReading


class SubscriberStore(Protocol):
    """Subscriber readings of a channel."""

    async def add_subscriber_reading(self, reading: SubscriberReading) -> None:
        """Store a reading; the same (channel, taken_at) twice is stored once."""
        ...

    async def last_subscriber_reading_at(self, channel_id: ChannelId) -> datetime | None:
        """When the channel's subscribers were last read, None when never."""
        ...
