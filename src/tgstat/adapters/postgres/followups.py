"""Horizon follow-ups waiting for the scheduler: the FollowUpStore port."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.planning import FollowUp
from tgstat.ports.followup_store import FollowUpStore


class PostgresFollowUpStore(PostgresConnection, FollowUpStore):
    """FollowUpStore over ``stat_followup``."""

    async def add_followups(self, followups: Sequence[FollowUp]) -> None:
        if not followups:
            return
        await self._executemany(
            # No conflict target: a follow-up already stored for the post, or for its album
            # (stat_followup_album_idx), makes this one a no-op.
            "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at, grouped_id)"
            " VALUES (%(c)s, %(p)s, %(h)s, %(due)s, %(album)s)"
            " ON CONFLICT DO NOTHING",
            [_followup_params(f) for f in followups],
        )

    async def pending_followups(self, channel_id: ChannelId, now: datetime) -> Sequence[FollowUp]:
        rows = await self._fetchall(
            """
            SELECT tg_post_id, horizon_s, due_at, grouped_id FROM stat_followup
            WHERE tg_channel_id = %(c)s AND scheduled_at IS NULL AND due_at > %(now)s
            ORDER BY due_at, tg_post_id, horizon_s
            """,
            {"c": channel_id, "now": now},
        )
        return [_to_followup(channel_id, r) for r in rows]

    async def mark_followup_scheduled(self, followup: FollowUp, at: datetime) -> None:
        await self._execute(
            "UPDATE stat_followup SET scheduled_at = %(at)s"
            " WHERE tg_channel_id = %(c)s AND tg_post_id = %(p)s AND horizon_s = %(h)s",
            {**_followup_params(followup), "at": at},
        )

    async def unmeasured_followups(
        self, channel_id: ChannelId, due_by: datetime
    ) -> Sequence[FollowUp]:
        rows = await self._fetchall(
            """
            SELECT tg_post_id, horizon_s, due_at, grouped_id FROM stat_followup
            WHERE tg_channel_id = %(c)s AND measured_at IS NULL AND due_at <= %(due_by)s
            ORDER BY due_at, tg_post_id, horizon_s
            """,
            {"c": channel_id, "due_by": due_by},
        )
        return [_to_followup(channel_id, r) for r in rows]

    async def channels_with_unmeasured(
        self, channel_ids: Collection[ChannelId], due_by: datetime
    ) -> set[ChannelId]:
        if not channel_ids:
            return set()
        rows = await self._fetchall(
            """
            SELECT DISTINCT tg_channel_id FROM stat_followup
            WHERE tg_channel_id = ANY(%(cs)s) AND measured_at IS NULL AND due_at <= %(due_by)s
            """,
            {"cs": sorted(channel_ids), "due_by": due_by},
        )
        return {ChannelId(r[0]) for r in rows}

    async def mark_followups_measured(
        self, channel_id: ChannelId, measured: Sequence[tuple[FollowUp, datetime]]
    ) -> None:
        if not measured:
            return
        await self._executemany(
            "UPDATE stat_followup SET measured_at = %(at)s,"
            " late_by_s = greatest(0, ceil(extract(epoch FROM %(at)s - due_at)))::integer"
            " WHERE tg_channel_id = %(c)s AND tg_post_id = %(p)s AND horizon_s = %(h)s"
            " AND measured_at IS NULL",
            [{**_followup_params(f), "at": at} for f, at in measured],
        )


def _to_followup(channel_id: ChannelId, row: Sequence[Any]) -> FollowUp:
    return FollowUp(channel_id, PostId(row[0]), Horizon(timedelta(seconds=row[1])), row[2], row[3])


def _followup_params(f: FollowUp) -> dict[str, Any]:
    return {
        "c": f.channel_id,
        "p": f.post_id,
        "h": int(f.horizon.value.total_seconds()),
        "due": f.due_at,
        "album": f.grouped_id,
    }
