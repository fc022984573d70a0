"""collect_channel over stateful fakes: what a cycle stores, costs and survives."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import CHANNEL, T0, at, post, user
from tests.fakes import FakeGateway, FakeScheduler, FakeStatRepository
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import CommentId, EventId, PostId, SessionPk
from tgstat.domain.model import (
    AuthorKind,
    ChannelConfig,
    Comment,
    MemberAction,
    MemberEvent,
    Post,
    SealedSession,
    SessionStatus,
)
from tgstat.domain.planning import FollowUp
from tgstat.ports.gateway import (
    ChannelInfo,
    DisconnectedError,
    RateLimitedError,
    SessionBannedError,
)
from tgstat.ports.repository import ChannelBusyError
from tgstat.services.collect import CollectPolicy, CollectReport, collect_channel
from tgstat.services.retry import RetryPolicy


@attrs.define
class World:
    repo: FakeStatRepository
    gateway: FakeGateway
    scheduler: FakeScheduler
    slept: list[float] = attrs.Factory(list)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def collect(self, now: datetime, **policy: object) -> CollectReport:
        return await collect_channel(
            CHANNEL,
            repository=self.repo,
            gateway=self.gateway,
            scheduler=self.scheduler,
            now=now,
            policy=CollectPolicy(**policy),
            sleep=self.sleep,  # type: ignore[arg-type]
        )

    async def unmeasured(self, due_by: datetime) -> list[FollowUp]:
        async with self.repo.session() as s:
            return list(await s.unmeasured_followups(CHANNEL, due_by))

    def publish(self, p: Post) -> None:
        self.gateway.posts[p.id] = p


@pytest.fixture(name="world")
async def _world() -> World:
    return await new_world()


async def new_world() -> World:
    """One configured channel, its session, a quiet Telegram and a working scheduler."""
    repo = FakeStatRepository()
    async with repo.session() as s, s.transaction():
        pk = await s.upsert_session(SealedSession("+1", 1, b"h", b"s"))
        await s.upsert_channel(ChannelConfig(CHANNEL, "Demo", SessionPk(pk)))
    return World(repo, FakeGateway(ChannelInfo(CHANNEL, "Demo", "demo")), FakeScheduler())


def event(i: int, action: MemberAction, uid: int, when: datetime) -> MemberEvent:
    return MemberEvent(EventId(i), when, action, user(uid))


class TestNewPosts:
    """New posts are stored with snapshots and follow-ups for future horizons only."""

    async def test_stored_and_followups_scheduled(self, world: World) -> None:
        world.publish(post(1, date=at(hours=-30)))  # both horizons past
        world.publish(post(2, date=at(hours=-2)))  # 1 h past, 24 h ahead
        world.publish(post(3, date=at(minutes=-1)))  # both ahead
        report = await world.collect(T0)
        assert report.posts_new == 3
        # one run per session and minute, at the follow-ups' exact instants
        assert [(r.minute, r.instants) for r in world.scheduler.runs.values()] == [
            (at(minutes=59), (at(minutes=59),)),  # post 3, 1 h
            (at(hours=22), (at(hours=22),)),  # post 2, 24 h
            (at(hours=23, minutes=59), (at(hours=23, minutes=59),)),  # post 3, 24 h
        ]
        assert report.followups_scheduled == 3

    async def test_second_cycle_fetches_only_newer(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-10)))
        await world.collect(T0)
        world.publish(post(2, date=at(minutes=3)))
        report = await world.collect(at(minutes=5))
        assert report.posts_new == 1
        assert report.posts_refreshed == 1


class TestCost:
    """A quiet channel costs a handful of requests, not one per post."""

    async def test_quiet_cycle(self, world: World) -> None:
        for i in range(1, 251):
            world.publish(post(i, date=at(hours=-48) + timedelta(minutes=i)))
        await world.collect(T0)
        report = await world.collect(at(minutes=5))
        # nothing new: 1 history page, 1 admin-log page, 1 rotating slice of 100 old posts
        assert report.requests == {"posts": 1, "admin_log": 1, "counters": 1}
        assert world.gateway.counter_batches[-1] == 100

    async def test_refresh_batches_hold_at_most_100_ids(self, world: World) -> None:
        for i in range(1, 251):
            world.publish(post(i, date=at(hours=-5) + timedelta(seconds=i)))
        await world.collect(T0)
        await world.collect(at(minutes=5))
        assert world.gateway.counter_batches == [100, 100, 50]

    async def test_rotation_covers_all_old_posts(self, world: World) -> None:
        for i in range(1, 251):
            world.publish(post(i, date=at(hours=-48) + timedelta(minutes=i)))
        await world.collect(T0)
        seen: set[int] = set()
        original = world.gateway.fetch_posts

        async def spy(channel_id, ids):  # type: ignore[no-untyped-def]
            seen.update(ids)
            return await original(channel_id, ids)

        world.gateway.fetch_posts = spy  # type: ignore[method-assign]
        for k in range(1, 4):
            await world.collect(at(minutes=5 * k))
        assert seen == set(range(1, 251))

    async def test_comments_read_only_when_the_count_changes(self, world: World) -> None:
        p = post(1, date=at(minutes=-30), comments=1)
        world.publish(p)
        world.gateway.comments[p.id] = [
            Comment(CommentId(10), p.id, at(minutes=-20), AuthorKind.USER, 5)
        ]
        first = await world.collect(T0)
        quiet = await world.collect(at(minutes=5))
        world.publish(post(1, date=at(minutes=-30), comments=2))
        world.gateway.comments[p.id].append(
            Comment(CommentId(11), p.id, at(minutes=7), AuthorKind.CHANNEL, 9)
        )
        busy = await world.collect(at(minutes=10))
        assert (first.comments_fetched, quiet.comments_fetched, busy.comments_fetched) == (1, 0, 1)
        assert "comments" not in quiet.requests
        stored = world.repo.post(CHANNEL, 1)
        assert (stored.users, stored.channels) == (1, 1)


class TestFailures:
    """Failures lose nothing committed; the next cycle catches up."""

    async def test_admin_log_failure_keeps_posts_and_cursor(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-1)))
        world.gateway.events = [event(1, MemberAction.JOIN, 7, at(minutes=-3))]
        world.gateway.fail["admin_log"] = [DisconnectedError("x")] * 5
        with pytest.raises(DisconnectedError):
            await world.collect(T0)
        assert world.repo.post(CHANNEL, 1).post.counters.views == 10
        async with world.repo.session() as s:
            assert (await s.get_channel(CHANNEL)).admin_log_cursor == 0
        report = await world.collect(at(minutes=5))
        assert report.events_merged == 1
        assert [e.user.id for e in world.repo.episodes(CHANNEL)] == [7]

    async def test_only_a_completed_cycle_counts_as_collected(self, world: World) -> None:
        await world.collect(T0)
        world.gateway.fail["admin_log"] = [DisconnectedError("x")] * 5
        with pytest.raises(DisconnectedError):
            await world.collect(at(minutes=5))
        assert world.repo.state.last_collected[CHANNEL] == T0
        await world.collect(at(minutes=10))
        assert world.repo.state.last_collected[CHANNEL] == at(minutes=10)

    async def test_short_flood_wait_is_slept_and_retried(self, world: World) -> None:
        world.gateway.fail["posts"] = [RateLimitedError("wait", 7)]
        report = await world.collect(T0)
        assert world.slept == [7]
        assert report.retries == 1

    async def test_long_flood_wait_is_not_slept(self, world: World) -> None:
        world.gateway.fail["posts"] = [RateLimitedError("wait", 3600)]
        with pytest.raises(RateLimitedError):
            await world.collect(T0, retry=RetryPolicy(max_wait=timedelta(minutes=2)))
        assert world.slept == []

    async def test_attempts_are_capped(self, world: World) -> None:
        world.gateway.fail["posts"] = [DisconnectedError("x")] * 10
        with pytest.raises(DisconnectedError):
            await world.collect(T0, retry=RetryPolicy(max_attempts=3))
        assert len(world.slept) == 2

    async def test_banned_session_is_marked(self, world: World) -> None:
        world.gateway.fail["counters"] = [SessionBannedError("AuthKeyUnregistered")]
        world.publish(post(1, date=at(minutes=-10)))
        await world.collect(T0)
        with pytest.raises(SessionBannedError):
            await world.collect(at(minutes=5))
        async with world.repo.session() as s:
            session = await s.get_session(SessionPk(1))
        assert session.status is SessionStatus.BANNED
        assert "AuthKeyUnregistered" in (session.status_reason or "")

    async def test_scheduler_down_keeps_followups_for_next_cycle(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-1)))
        world.scheduler.down = True
        report = await world.collect(T0)
        assert report.scheduler_error is not None
        assert report.followups_pending == 2
        world.scheduler.down = False
        report = await world.collect(at(minutes=5))
        assert report.followups_scheduled == 2
        assert report.followups_pending == 0

    async def test_overlapping_cycles_refused(self, world: World) -> None:
        async with world.repo.channel_session(CHANNEL):
            with pytest.raises(ChannelBusyError):
                await world.collect(T0)


class TestHorizons:
    """1 h / 24 h values come from the snapshot at the instant."""

    async def test_followup_run_measures_the_instant(self, world: World) -> None:
        date = at(minutes=2)
        world.publish(post(1, date=date, views=5))
        await world.collect(at(minutes=5))
        world.publish(post(1, date=date, views=300))
        await world.collect(Horizon.H1.instant(date))  # the follow-up run
        world.publish(post(1, date=date, views=320))
        await world.collect(at(minutes=65))
        stored = world.repo.post(CHANNEL, 1)
        assert stored.horizons["views_1h"] == 300
        assert stored.post.counters.views == 320
        assert "views_24h" not in stored.horizons


def comment(
    cid: int, post_id: int, when: datetime, kind: AuthorKind, author: int | None
) -> Comment:
    return Comment(CommentId(cid), PostId(post_id), when, kind, author)


class TestRealShapes:
    """Albums, deletions, unreadable threads, late posts and subscriber counts (DESIGN 4.5)."""

    async def test_an_album_is_followed_up_once_per_instant(self, world: World) -> None:
        for i in (1, 2, 3):
            world.publish(attrs.evolve(post(i, date=at(minutes=-1)), grouped_id=555))
        report = await world.collect(T0)
        assert report.posts_new == 3
        assert [r.at for r in world.scheduler.runs.values()] == [
            at(minutes=59),
            at(hours=23, minutes=59),
        ]
        assert sorted(
            (f.post_id, f.horizon.label) for f in await world.unmeasured(at(hours=48))
        ) == [(1, "1h"), (1, "24h")]
        assert [world.repo.post(CHANNEL, i).post.grouped_id for i in (1, 2, 3)] == [555] * 3

    async def test_a_deleted_post_is_marked_kept_and_never_asked_again(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-1), views=40))
        world.publish(post(2, date=at(minutes=-1)))
        await world.collect(T0)
        del world.gateway.posts[PostId(1)]  # deleted in Telegram 30 min after publication
        asked: list[list[PostId]] = []
        original = world.gateway.fetch_posts

        async def spy(channel_id, ids):  # type: ignore[no-untyped-def]
            asked.append(list(ids))
            return await original(channel_id, ids)

        world.gateway.fetch_posts = spy  # type: ignore[method-assign]
        report = await world.collect(at(minutes=30))
        assert report.posts_deleted == 1
        stored = world.repo.post(CHANNEL, 1)
        assert stored.deleted_at == at(minutes=30)
        assert stored.post.counters.views == 40  # the last counters stay
        await world.collect(at(minutes=35))
        await world.collect(at(minutes=59))  # the 1 h follow-up
        assert asked[0] == [1, 2]
        assert all(PostId(1) not in ids for ids in asked[1:])
        # its 1 h instant came after the deletion was found: never measured, NULL
        assert "views_1h" not in stored.horizons
        assert world.repo.post(CHANNEL, 2).horizons["views_1h"] == 10

    async def test_an_unreadable_thread_leaves_comment_figures_unknown(self, world: World) -> None:
        p = post(1, date=at(minutes=-10), comments=3)
        world.publish(p)
        world.gateway.comments[p.id] = [
            comment(10 + i, 1, at(minutes=-5), AuthorKind.USER, 7 + i) for i in range(3)
        ]
        world.gateway.unreadable_threads.add(p.id)
        first = await world.collect(T0)
        assert first.threads_unreadable == 1
        await world.collect(at(minutes=5))  # not retried within the hour
        await world.collect(at(minutes=50))  # the 1 h instant: comments unknown
        stored = world.repo.post(CHANNEL, 1)
        assert stored.post.counters.comments == 3  # Telegram's counter said 3
        assert "comments_1h" not in stored.horizons
        assert (stored.users, stored.channels) == (None, None)
        assert stored.thread_unreadable_at == T0
        assert world.gateway.requests["comments"] == 1
        world.gateway.unreadable_threads.clear()  # readable again an hour later
        retried = await world.collect(at(minutes=60))
        assert retried.comments_fetched == 3
        assert world.gateway.requests["comments"] == 2
        assert stored.thread_unreadable_at is None
        assert stored.horizons["comments_1h"] == 3  # exact again: the comments' dates tell
        assert (stored.users, stored.channels) == (3, 0)

    async def test_every_comment_counts_but_only_people_and_channels_are_distinct(
        self, world: World
    ) -> None:
        p = post(1, date=at(minutes=-10), comments=4)
        world.publish(p)
        world.gateway.comments[p.id] = [
            comment(10, 1, at(minutes=-9), AuthorKind.USER, 7),
            comment(11, 1, at(minutes=-8), AuthorKind.CHANNEL, 777),
            comment(12, 1, at(minutes=-7), AuthorKind.ANONYMOUS, 9001),  # the group itself
            comment(13, 1, at(minutes=-6), AuthorKind.NONE, None),
        ]
        await world.collect(T0)
        await world.collect(at(minutes=50))  # the 1 h instant
        stored = world.repo.post(CHANNEL, 1)
        assert stored.horizons["comments_1h"] == 4
        assert (stored.users, stored.channels) == (1, 1)

    async def test_a_post_first_seen_late_gets_exact_comment_horizons(self, world: World) -> None:
        p = post(1, date=at(hours=-30), comments=3, views=900)
        world.publish(p)
        world.gateway.comments[p.id] = [
            comment(10, 1, at(hours=-30, minutes=30), AuthorKind.USER, 7),  # within 1 h
            comment(11, 1, at(hours=-20), AuthorKind.USER, 8),  # within 24 h
            comment(12, 1, at(hours=-1), AuthorKind.USER, 9),  # after 24 h
        ]
        await world.collect(T0)
        stored = world.repo.post(CHANNEL, 1)
        assert stored.horizons == {"comments_1h": 1, "comments_24h": 2}  # views never seen

    async def test_subscribers_read_hourly_and_fail_alone(self, world: World) -> None:
        world.gateway.subscribers = 1200
        assert (await world.collect(T0)).subscribers == 1200
        world.gateway.subscribers = 1210
        assert (await world.collect(at(minutes=5))).subscribers is None  # not due
        world.gateway.fail["channel"] = [DisconnectedError("x")] * 10
        world.publish(post(1, date=at(minutes=58)))
        failed = await world.collect(at(minutes=60))
        assert failed.subscribers_error is not None
        assert failed.posts_new == 1  # the rest of the cycle is kept
        world.gateway.fail.clear()
        assert (await world.collect(at(minutes=65))).subscribers == 1210
        readings = world.repo.subscriber_readings(CHANNEL)
        assert [(r.taken_at, r.subscribers) for r in readings] == [
            (T0, 1200),
            (at(minutes=65), 1210),
        ]


class TestDeletionProperty:
    """A post found deleted is never in a later refresh plan, whenever it was deleted."""

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(st.integers(-48 * 60, 0), min_size=1, max_size=12),
        st.dictionaries(st.integers(0, 11), st.integers(1, 40), max_size=6),
    )
    def test_deleted_posts_leave_the_refresh_plan(
        self, published: list[int], deleted_at_cycle: dict[int, int]
    ) -> None:
        asyncio.run(self._run(published, deleted_at_cycle))

    async def _run(self, published: list[int], deleted_at_cycle: dict[int, int]) -> None:
        world = await new_world()
        for i, minutes in enumerate(published, start=1):
            world.publish(post(i, date=at(minutes=minutes)))
        asked: list[tuple[int, list[PostId]]] = []
        original = world.gateway.fetch_posts
        cycle = 0

        async def spy(channel_id, ids):  # type: ignore[no-untyped-def]
            asked.append((cycle, list(ids)))
            return await original(channel_id, ids)

        world.gateway.fetch_posts = spy  # type: ignore[method-assign]
        gone_since: dict[PostId, int] = {}
        for cycle in range(42):
            for index, when in deleted_at_cycle.items():
                pid = PostId(index + 1)
                if when == cycle and world.gateway.posts.pop(pid, None) is not None:
                    gone_since[pid] = cycle
            await world.collect(at(minutes=5 * cycle))
        for pid, since in gone_since.items():
            # the read that found it empty is the last time it is asked for
            reads = [c for c, ids in asked if pid in ids and c >= since]
            assert len(reads) <= 1, (pid, since, reads)
            if reads:
                assert world.repo.post(CHANNEL, pid).deleted_at == at(minutes=5 * reads[0])


class TestLostFollowUps:
    """A follow-up is done when a collection measured its instant, not when it was handed
    over: a run that never happened is measured late by the next cycle."""

    async def test_measured_on_time_by_its_own_run(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-2), views=10))
        await world.collect(T0)
        report = await world.collect(at(minutes=58))  # the 1 h run
        assert report.followups_late == 0
        assert world.repo.state.measured[f"tgstat:{CHANNEL}:1:1h"] == (at(minutes=58), 0)

    @pytest.mark.parametrize(("views_after", "views_1h"), [(10, 10), (30, None)])
    async def test_a_lost_run_is_measured_late(
        self, world: World, views_after: int, views_1h: int | None
    ) -> None:
        world.publish(post(1, date=at(minutes=-2), views=10))
        await world.collect(T0)
        await world.collect(at(minutes=50))
        world.publish(post(1, date=at(minutes=-2), views=views_after))
        # the 1 h run (at 58 min) never happened; the next cycle comes at 70 min
        report = await world.collect(at(minutes=70))
        assert report.followups_late == 1
        assert world.repo.state.measured[f"tgstat:{CHANNEL}:1:1h"] == (at(minutes=70), 12 * 60)
        # views never go down: 10 at 50 min and 10 at 70 min fix the 58 min value; 10 then
        # 30 do not, and nothing was read within 5 min of it: unknown
        assert world.repo.post(CHANNEL, 1).horizons.get("views_1h") == views_1h
        assert "reactions_1h" not in world.repo.post(CHANNEL, 1).horizons

    async def test_a_lost_24h_run_reads_the_post_past_the_window(self, world: World) -> None:
        world.publish(post(1, date=at(minutes=-2), views=10))
        await world.collect(T0)
        asked: list[list[PostId]] = []
        original = world.gateway.fetch_posts

        async def spy(channel_id, ids):  # type: ignore[no-untyped-def]
            asked.append(list(ids))
            return await original(channel_id, ids)

        world.gateway.fetch_posts = spy  # type: ignore[method-assign]
        # nothing ran for two days: both follow-ups were lost; the post is past the
        # 24 h window and outside the rotation (the slice is empty)
        report = await world.collect(at(hours=48), rotation_slice=0)
        assert report.followups_late == 2
        assert asked == [[1]]
        stored = world.repo.post(CHANNEL, 1)
        assert stored.horizons.get("views_24h") == 10  # 10 before and 10 after: exact
        late = world.repo.state.measured[f"tgstat:{CHANNEL}:1:24h"]
        assert late == (
            at(hours=48),
            int((at(hours=48) - at(hours=24, minutes=-2)).total_seconds()),
        )
