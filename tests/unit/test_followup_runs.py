"""Follow-up runs (docs/design.md 4.3): one run per session and minute, and a run that reads
only the due posts by id and their new comments."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import CHANNEL, T0, at, post
from tests.fakes import FakeGateway, FakeScheduler, FakeStatRepository
from tgstat.app.collection import followup_many
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, CommentId, PostId, SessionPk
from tgstat.domain.model import AuthorKind, ChannelConfig, Comment, SealedSession
from tgstat.domain.planning import FollowUp, minute_of, plan_runs
from tgstat.ports.gateway import ChannelInfo, DisconnectedError, PostsRead
from tgstat.services.collect import CollectPolicy, collect_channel
from tgstat.services.followup import measure_followups
from tgstat.services.retry import RetryPolicy

OTHER = ChannelId(1777000002)
PK = SessionPk(1)


def followup(post_id: int, due: datetime, channel: ChannelId = CHANNEL) -> FollowUp:
    return FollowUp(channel, PostId(post_id), Horizon.H1, due)


class TestPlanRuns:
    """Follow-ups become one run per session and minute; overdue ones the current minute."""

    def test_a_burst_in_one_minute_is_one_run(self) -> None:
        burst = [followup(i, at(minutes=59, hours=0) + timedelta(seconds=7 * i)) for i in (1, 2, 3)]
        [(run, members)] = plan_runs(burst, PK, "+1555", now=T0)
        assert members == burst
        assert run.minute == at(minutes=59)
        assert run.at == burst[-1].due_at  # when all of them are due
        assert run.instants == tuple(f.due_at for f in burst)
        assert run.due_by == at(minutes=60) - timedelta(microseconds=1)

    def test_the_key_names_session_and_minute(self) -> None:
        one = plan_runs([followup(1, at(minutes=59, hours=0))], PK, "+1555", now=T0)[0][0]
        other_channel = plan_runs(
            [followup(9, at(minutes=59) + timedelta(seconds=30), OTHER)], PK, "+1555", now=T0
        )[0][0]
        other_session = plan_runs([followup(1, at(minutes=59))], SessionPk(2), "+1666", T0)[0][0]
        assert one.idempotency_key == "tgstat:followups:1:2026-11-01T00:59Z"
        assert other_channel.idempotency_key == one.idempotency_key
        assert other_session.idempotency_key != one.idempotency_key
        assert "+1555" not in repr(one)  # the phone is never shown in full

    def test_an_overdue_followup_is_replanned_under_a_new_key(self) -> None:
        # its run (minute 00:59) crashed; planned again at 01:03 it must not get that key,
        # or Prefect would answer with the crashed run
        late = followup(1, at(minutes=59))
        crashed = plan_runs([late], PK, "+1555", now=at(minutes=50))[0][0]
        again = plan_runs([late], PK, "+1555", now=at(minutes=63, hours=0))[0][0]
        assert again.idempotency_key != crashed.idempotency_key
        assert again.minute == at(minutes=63)
        assert again.at == at(minutes=63)

    @given(
        st.lists(st.integers(0, 3 * 24 * 3600), max_size=40),
        st.integers(0, 24 * 3600),
    )
    def test_every_followup_in_exactly_one_run_of_its_minute(
        self, offsets: list[int], now_s: int
    ) -> None:
        now = T0 + timedelta(seconds=now_s)
        items = [followup(i, T0 + timedelta(seconds=s)) for i, s in enumerate(offsets)]
        plan = plan_runs(items, PK, "+1555", now)
        keys = [r.idempotency_key for r, _ in plan]
        assert len(keys) == len(set(keys))
        assert sorted(f.post_id for _, m in plan for f in m) == sorted(f.post_id for f in items)
        for run, members in plan:
            assert run.at >= now
            assert all(minute_of(i) == run.minute for i in run.instants)
            assert all(minute_of(max(f.due_at, now)) == run.minute for f in members)
        # runs per day never exceed the distinct minutes the follow-ups fall in
        assert len(plan) == len({minute_of(max(f.due_at, now)) for f in items})


class TwoChannels(FakeGateway):
    """One session's client: answers for CHANNEL from ``a``, for OTHER from ``b``."""

    def __init__(self, a: FakeGateway, b: FakeGateway) -> None:
        self.a, self.b = a, b

    def _of(self, channel_id: ChannelId) -> FakeGateway:
        return self.a if channel_id == CHANNEL else self.b

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> PostsRead:
        return await self._of(channel_id).fetch_posts(channel_id, ids)

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        return await self._of(channel_id).fetch_comments(channel_id, post_id, after)

    def request_counts(self) -> Mapping[str, int]:
        return Counter(self.a.request_counts()) + Counter(self.b.request_counts())


@attrs.define
class World:
    repo: FakeStatRepository
    gateway: FakeGateway
    other: FakeGateway
    scheduler: FakeScheduler

    async def collect(self, now: datetime, channel: ChannelId = CHANNEL) -> None:
        await collect_channel(
            channel,
            repository=self.repo,
            gateway=self.gateway if channel == CHANNEL else self.other,
            scheduler=self.scheduler,
            now=now,
        )

    async def followups(self, now: datetime, due_by: datetime | None = None) -> Any:
        return await measure_followups(
            CHANNEL,
            repository=self.repo,
            gateway=self.gateway,
            now=now,
            due_by=due_by,
            policy=CollectPolicy(retry=RetryPolicy(max_attempts=1)),
        )

    async def unmeasured(self, due_by: datetime, channel: ChannelId = CHANNEL) -> list[FollowUp]:
        async with self.repo.session() as s:
            return list(await s.unmeasured_followups(channel, due_by))


@pytest.fixture(name="world")
async def _world() -> World:
    """Two channels of one session, a quiet Telegram each and a working scheduler."""
    repo = FakeStatRepository()
    async with repo.session() as s, s.transaction():
        pk = SessionPk(await s.upsert_session(SealedSession("+15550100", 1, b"h", b"s")))
        await s.upsert_channel(ChannelConfig(CHANNEL, "Demo", pk))
        await s.upsert_channel(ChannelConfig(OTHER, "Other", pk))
    return World(
        repo,
        FakeGateway(ChannelInfo(CHANNEL, "Demo", "demo")),
        FakeGateway(ChannelInfo(OTHER, "Other", "other")),
        FakeScheduler(),
    )


class TestCoalescing:
    """Posts of one session due in the same minute cost one run, whichever channel."""

    async def test_a_burst_and_a_second_channel_share_one_run(self, world: World) -> None:
        for i in (1, 2, 3):  # a burst, seconds apart
            world.gateway.posts[PostId(i)] = post(i, date=at(minutes=1) + timedelta(seconds=i))
        await world.collect(at(minutes=2))
        world.other.posts[PostId(7)] = post(7, date=at(minutes=1, hours=0))
        await world.collect(at(minutes=3), channel=OTHER)
        one_hour = [r for r in world.scheduler.runs.values() if r.minute == at(minutes=61)]
        # the second channel's run came back as the first one: its channels are those known
        # when it was created, and only the database knows the late addition
        assert [r.channel_ids for r in one_hour] == [(CHANNEL,)]
        assert world.scheduler.calls == 4  # 1 h and 24 h, from each channel
        assert len(world.scheduler.runs) == 2

        @asynccontextmanager
        async def source(c: ChannelConfig) -> Any:
            # one client per session serves both channels
            yield TwoChannels(world.gateway, world.other), c.session_pk

        async with world.repo.session() as s:
            channels = list(await s.list_channels())
        outcomes = await followup_many(
            channels,
            repository=world.repo,
            source=source,
            concurrency=2,
            due_by=one_hour[0].due_by,
            clock=lambda: one_hour[0].at,
        )
        assert [o.status for o in outcomes] == ["collected", "collected"]
        assert await world.unmeasured(at(hours=2)) == []
        assert await world.unmeasured(at(hours=2), OTHER) == []
        for channel, ids in ((CHANNEL, (1, 2, 3)), (OTHER, (7,))):
            assert [world.repo.post(channel, i).horizons["views_1h"] for i in ids] == [10] * len(
                ids
            )

    async def test_a_run_with_nothing_due_opens_no_client(self, world: World) -> None:
        @asynccontextmanager
        async def source(c: ChannelConfig) -> Any:
            raise AssertionError("no client should be opened")
            yield

        async with world.repo.session() as s:
            channels = list(await s.list_channels())
        assert (
            await followup_many(channels, repository=world.repo, source=source, concurrency=1) == []
        )


class TestNarrowRun:
    """A follow-up run reads the due posts by id (100 a request) and their new comments only."""

    async def test_only_counters_of_the_due_posts(self, world: World) -> None:
        for i in range(1, 251):
            world.gateway.posts[PostId(i)] = post(i, date=at(minutes=1))
        world.gateway.posts[PostId(999)] = post(999, date=at(minutes=30))  # due later
        await world.collect(at(minutes=5))
        for i in range(1, 251):
            world.gateway.posts[PostId(i)] = post(i, date=at(minutes=1), views=77)
        world.gateway.requests.clear()
        world.gateway.counter_batches.clear()

        report = await world.followups(at(minutes=61))

        assert world.gateway.request_counts() == {"counters": 3}  # 250 posts: <= 2 per 100
        assert sorted(world.gateway.counter_batches) == [50, 100, 100]
        assert report.followups_measured == 250
        assert world.repo.post(CHANNEL, 42).horizons["views_1h"] == 77
        assert "views_1h" not in world.repo.post(CHANNEL, 999).horizons
        assert [f.post_id for f in await world.unmeasured(at(hours=2))] == [999]

    async def test_nothing_due_costs_nothing(self, world: World) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1))
        await world.collect(at(minutes=5))
        world.gateway.requests.clear()
        report = await world.followups(at(minutes=30))
        assert world.gateway.request_counts() == {}
        assert report.requests == {}

    async def test_new_comments_make_the_comment_horizon_exact(self, world: World) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), comments=0)
        await world.collect(at(minutes=5))
        world.gateway.comments[PostId(1)] = [
            Comment(CommentId(10 + i), PostId(1), at(minutes=20 + 20 * i), AuthorKind.USER, 5)
            for i in range(3)  # 00:20, 00:40, 01:00: all at or before the 01:01 instant
        ]
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), comments=3)
        world.gateway.requests.clear()
        await world.followups(at(minutes=61))
        assert world.gateway.request_counts() == {"counters": 1, "comments": 1}
        assert world.repo.post(CHANNEL, 1).horizons["comments_1h"] == 3

    async def test_an_album_is_measured_whole(self, world: World) -> None:
        for i in (1, 2, 3):
            world.gateway.posts[PostId(i)] = attrs.evolve(
                post(i, date=at(minutes=1), views=10 * i), grouped_id=555
            )
        await world.collect(at(minutes=5))
        world.gateway.requests.clear()
        await world.followups(at(minutes=61))
        assert world.gateway.request_counts() == {"counters": 1}
        assert [world.repo.post(CHANNEL, i).horizons["views_1h"] for i in (1, 2, 3)] == [10, 20, 30]

    async def test_a_deleted_post_is_marked_and_its_horizon_stays_null(self, world: World) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1))
        await world.collect(at(minutes=5))
        del world.gateway.posts[PostId(1)]
        await world.followups(at(minutes=61))
        assert world.repo.post(CHANNEL, 1).deleted_at == at(minutes=61)
        assert "views_1h" not in world.repo.post(CHANNEL, 1).horizons

    async def test_one_run_measures_every_instant_of_its_minute(self, world: World) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), views=4)
        world.gateway.posts[PostId(2)] = post(2, date=at(minutes=1) + timedelta(seconds=50))
        await world.collect(at(minutes=5))
        run = next(r for r in world.scheduler.runs.values() if r.minute == at(minutes=61))
        assert run.at == at(minutes=61) + timedelta(seconds=50)
        await world.followups(run.at, due_by=run.due_by)
        assert await world.unmeasured(at(hours=2)) == []
        assert [world.repo.post(CHANNEL, i).horizons["views_1h"] for i in (1, 2)] == [4, 10]

    async def test_one_added_later_in_the_minute_is_settled_by_the_next_cycle(
        self, world: World
    ) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), views=4)
        await world.collect(at(minutes=5))
        late = post(2, date=at(minutes=1) + timedelta(seconds=50), views=6)
        world.gateway.posts[PostId(2)] = late  # seen late, its instant after the run's
        await world.collect(at(minutes=58))
        await world.followups(at(minutes=61), due_by=at(minutes=62) - timedelta(microseconds=1))
        assert [f.post_id for f in await world.unmeasured(at(hours=2))] == [2]
        assert "views_1h" not in world.repo.post(CHANNEL, 2).horizons
        world.gateway.posts[PostId(2)] = attrs.evolve(
            late, counters=attrs.evolve(late.counters, views=8)
        )
        await world.collect(at(minutes=64))  # 2 min 10 s after; the run's snapshot: 50 s
        assert await world.unmeasured(at(hours=2)) == []
        assert world.repo.post(CHANNEL, 2).horizons["views_1h"] == 6


class TestCrashedRun:
    """A run that failed leaves its follow-ups undone; the next run or cycle measures them."""

    async def test_the_next_cycle_measures_what_a_failed_run_left(self, world: World) -> None:
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), views=5)
        await world.collect(at(minutes=5))
        world.gateway.fail["counters"] = [DisconnectedError("lost")]
        with pytest.raises(DisconnectedError):
            await world.followups(at(minutes=61))
        assert [f.post_id for f in await world.unmeasured(at(minutes=61))] == [1]
        world.gateway.posts[PostId(1)] = post(1, date=at(minutes=1), views=9)
        await world.collect(at(minutes=63))  # within the tolerance of 01:01
        assert await world.unmeasured(at(minutes=63)) == []
        assert world.repo.post(CHANNEL, 1).horizons["views_1h"] == 9
