"""The SnapshotStore port: counter snapshots of posts and the horizon values read from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from tgstat.domain.horizons import HorizonValues
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import CounterSnapshot


class SnapshotStore(Protocol):
    """Counters of posts observed over time, and the per-horizon values stored on posts."""

    async def add_snapshots(
        self, channel_id: ChannelId, snapshots: Sequence[CounterSnapshot]
    ) -> None:
        """Store counter observations; the same (post, taken_at) twice is stored once."""
        ...

    async def snapshots_near(
        self,
        channel_id: ChannelId,
        instants: Sequence[tuple[PostId, datetime]],
        tolerance: timedelta,
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        """Snapshots of each given post taken within ``tolerance`` of its instant."""
        ...

    async def snapshots_around(
        self, channel_id: ChannelId, instants: Sequence[tuple[PostId, datetime]]
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        """For each given post and instant, its last snapshot taken at or before the instant
        and its first taken at or after it (whatever the distance), ascending by time."""
        ...

    async def set_horizon_values(
        self, channel_id: ChannelId, values: Sequence[HorizonValues]
    ) -> None: ...
