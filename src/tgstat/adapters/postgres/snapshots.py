"""Counter snapshots of posts and the horizon values read from them: the SnapshotStore port."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.horizons import HorizonValues
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.model import CounterSnapshot
from tgstat.ports.snapshot_store import SnapshotStore

_SNAPSHOT_IN_COLUMNS = (
    ("tg_post_id", "int8"),
    ("taken_at", "timestamptz"),
    ("views", "int8"),
    ("forwards", "int8"),
    ("reactions_count", "int8"),
    ("comments_count", "int8"),
)
_SNAPSHOT_COLUMNS = (("tg_channel_id", "int8"), *_SNAPSHOT_IN_COLUMNS)

# A cycle's snapshots share one taken_at, and the key leads with it: normally this finds
# nothing at all, cheaply.
_EXISTING_SNAPSHOTS = """
SELECT tg_post_id, taken_at FROM stat_post_snapshot
WHERE tg_channel_id = %(channel)s AND taken_at = ANY(%(times)s)
"""

_SET_HORIZONS = """
UPDATE stat_post SET
    views_1h = COALESCE(%(views_1h)s, views_1h),
    views_24h = COALESCE(%(views_24h)s, views_24h),
    reactions_1h = COALESCE(%(reactions_1h)s, reactions_1h),
    reactions_24h = COALESCE(%(reactions_24h)s, reactions_24h),
    comments_messages_count_1h = COALESCE(%(comments_1h)s, comments_messages_count_1h),
    comments_messages_count_24h = COALESCE(%(comments_24h)s, comments_messages_count_24h)
WHERE tg_channel_id = %(channel)s AND tg_post_id = %(post_id)s
"""


class PostgresSnapshotStore(PostgresConnection, SnapshotStore):
    """SnapshotStore over ``stat_post_snapshot`` and the horizon columns of ``stat_post``."""

    async def add_snapshots(
        self, channel_id: ChannelId, snapshots: Sequence[CounterSnapshot]
    ) -> None:
        if not snapshots:
            return
        rows = await self._fetchall(
            _EXISTING_SNAPSHOTS,
            {"channel": channel_id, "times": sorted({s.taken_at for s in snapshots})},
        )
        stored = {(r[0], r[1]) for r in rows}
        await self._copy_new(
            "stat_post_snapshot",
            _SNAPSHOT_COLUMNS,
            (
                (channel_id, s.post_id, s.taken_at, s.views, s.forwards, s.reactions, s.comments)
                for s in {(s.post_id, s.taken_at): s for s in snapshots}.values()
                if (s.post_id, s.taken_at) not in stored
            ),
        )

    async def snapshots_near(
        self,
        channel_id: ChannelId,
        instants: Sequence[tuple[PostId, datetime]],
        tolerance: timedelta,
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        if not instants:
            return {}
        rows = await self._fetchall(
            """
            SELECT s.tg_post_id, s.taken_at, s.views, s.forwards, s.reactions_count,
                   s.comments_count
            FROM unnest(%(posts)s::int8[], %(instants)s::timestamptz[]) AS n(post, instant)
            JOIN stat_post_snapshot s
              ON s.tg_channel_id = %(c)s AND s.tg_post_id = n.post
             AND s.taken_at BETWEEN n.instant - %(tol)s AND n.instant + %(tol)s
            ORDER BY s.tg_post_id, s.taken_at
            """,
            {
                "c": channel_id,
                "posts": [p for p, _ in instants],
                "instants": [t for _, t in instants],
                "tol": tolerance,
            },
        )
        found: dict[PostId, list[CounterSnapshot]] = {}
        for r in rows:
            pid = PostId(r[0])
            snap = CounterSnapshot(pid, r[1], r[2], r[3], r[4], r[5])
            bucket = found.setdefault(pid, [])
            if not bucket or bucket[-1] != snap:  # two instants of one post may overlap
                bucket.append(snap)
        return found

    async def snapshots_around(
        self, channel_id: ChannelId, instants: Sequence[tuple[PostId, datetime]]
    ) -> Mapping[PostId, Sequence[CounterSnapshot]]:
        if not instants:
            return {}
        rows = await self._fetchall(
            """
            SELECT s.tg_post_id, s.taken_at, s.views, s.forwards, s.reactions_count,
                   s.comments_count
            FROM unnest(%(posts)s::int8[], %(instants)s::timestamptz[]) AS n(post, instant)
            CROSS JOIN LATERAL (
                (SELECT * FROM stat_post_snapshot b
                 WHERE b.tg_channel_id = %(c)s AND b.tg_post_id = n.post
                   AND b.taken_at <= n.instant
                 ORDER BY b.taken_at DESC LIMIT 1)
                UNION
                (SELECT * FROM stat_post_snapshot a
                 WHERE a.tg_channel_id = %(c)s AND a.tg_post_id = n.post
                   AND a.taken_at >= n.instant
                 ORDER BY a.taken_at LIMIT 1)
            ) s
            ORDER BY s.tg_post_id, s.taken_at
            """,
            {
                "c": channel_id,
                "posts": [p for p, _ in instants],
                "instants": [t for _, t in instants],
            },
        )
        found: dict[PostId, list[CounterSnapshot]] = {}
        for r in rows:
            pid = PostId(r[0])
            snap = CounterSnapshot(pid, r[1], r[2], r[3], r[4], r[5])
            bucket = found.setdefault(pid, [])
            if snap not in bucket:
                bucket.append(snap)
        return found

    async def set_horizon_values(
        self, channel_id: ChannelId, values: Sequence[HorizonValues]
    ) -> None:
        if not values:
            return
        await self._executemany(
            _SET_HORIZONS,
            [
                {
                    "channel": channel_id,
                    "post_id": v.post_id,
                    "views_1h": v.views_1h,
                    "views_24h": v.views_24h,
                    "reactions_1h": v.reactions_1h,
                    "reactions_24h": v.reactions_24h,
                    "comments_1h": v.comments_1h,
                    "comments_24h": v.comments_24h,
                }
                for v in values
            ],
        )
