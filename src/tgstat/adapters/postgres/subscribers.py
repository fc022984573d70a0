"""The channel's subscriber count over time: the SubscriberStore port."""

from __future__ import annotations

from datetime import datetime

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.ids import ChannelId
from tgstat.domain.model import SubscriberReading
from tgstat.ports.subscriber_store import SubscriberStore


class PostgresSubscriberStore(PostgresConnection, SubscriberStore):
    """SubscriberStore over ``stat_channel_snapshot``."""

    async def add_subscriber_reading(self, reading: SubscriberReading) -> None:
        await self._execute(
            "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
            " VALUES (%(c)s, %(at)s, %(n)s)"
            " ON CONFLICT (tg_channel_id, taken_at) DO NOTHING",
            {"c": reading.channel_id, "at": reading.taken_at, "n": reading.subscribers},
        )

    async def last_subscriber_reading_at(self, channel_id: ChannelId) -> datetime | None:
        rows = await self._fetchall(
            "SELECT max(taken_at) FROM stat_channel_snapshot WHERE tg_channel_id = %(c)s",
            {"c": channel_id},
        )
        value: datetime | None = rows[0][0]
        return value
