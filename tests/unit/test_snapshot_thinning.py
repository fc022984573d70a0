"""Counter snapshots of settled posts: stored when a counter changed, not at every read."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest

from tests.builders import CHANNEL, T0, at, post
from tests.unit.test_collect import World, new_world
from tgstat.domain.model import Post


@pytest.fixture(name="world")
async def _world() -> World:
    return await new_world()


def snapshot_times(world: World, post_id: int) -> list[datetime]:
    return sorted(t for (c, p, t) in world.repo.state.snapshots if (c, p) == (CHANNEL, post_id))


def old(post_id: int, **fields: object) -> Post:
    """A post two days old: past both horizons, read only by the rotation."""
    return post(post_id, date=at(hours=-48) + timedelta(minutes=post_id), **fields)  # type: ignore[arg-type]


class TestSettledPosts:
    async def test_an_unchanged_read_writes_no_snapshot(self, world: World) -> None:
        for i in (1, 2, 3):
            world.publish(old(i))
        await world.collect(T0)  # first seen: every post gets its snapshot
        for k in (1, 2, 3):
            await world.collect(at(minutes=5 * k))
        assert [snapshot_times(world, i) for i in (1, 2, 3)] == [[T0]] * 3
        # the rotation did read them each cycle: the row says when
        assert world.repo.post(CHANNEL, 1).at == at(minutes=15)

    async def test_every_change_is_kept(self, world: World) -> None:
        world.publish(old(1))
        world.publish(old(2))
        await world.collect(T0)
        world.publish(old(1, views=11))
        await world.collect(at(minutes=5))
        await world.collect(at(minutes=10))
        world.publish(old(1, views=11, reactions=()))  # same counters again
        await world.collect(at(minutes=15))
        world.publish(old(2, comments=None))  # an unreported counter is no change
        await world.collect(at(minutes=20))
        assert snapshot_times(world, 1) == [T0, at(minutes=5)]
        assert snapshot_times(world, 2) == [T0]

    async def test_an_album_is_snapshotted_whole(self, world: World) -> None:
        """Its curve is the highest views of its messages at each instant: a message read
        unchanged beside a changed one must not drop out of that instant."""
        album = [attrs.evolve(old(i, views=100 - i), grouped_id=77) for i in (1, 2, 3)]
        for p in album:
            world.publish(p)
        await world.collect(T0)
        world.publish(attrs.evolve(old(3, views=98), grouped_id=77))  # 97 -> 98
        await world.collect(at(minutes=5))
        assert [snapshot_times(world, i) for i in (1, 2, 3)] == [[T0, at(minutes=5)]] * 3

    async def test_posts_inside_their_horizons_are_snapshotted_at_every_read(
        self, world: World
    ) -> None:
        world.publish(post(1, date=at(minutes=-10)))
        await world.collect(T0)
        for k in (1, 2):
            await world.collect(at(minutes=5 * k))
        assert snapshot_times(world, 1) == [T0, at(minutes=5), at(minutes=10)]

    async def test_a_late_followup_still_snapshots_an_unchanged_post(self, world: World) -> None:
        """A missed horizon is fixed by the snapshots around its instant: the late read
        is kept even when nothing changed."""
        world.publish(post(1, date=at(minutes=-2)))
        await world.collect(T0)
        # nothing ran for two days; the 1 h and 24 h follow-ups are overdue
        await world.collect(at(hours=48))
        assert snapshot_times(world, 1) == [T0, at(hours=48)]
        assert world.repo.post(CHANNEL, 1).horizons.get("views_24h") == 10
