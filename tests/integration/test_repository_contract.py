"""One suite, two implementations: the fake and the PostgreSQL repository must agree."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol

import attrs
import psycopg
import pytest

from tests.builders import CHANNEL, at, channel, post, sealed_session, user
from tests.fakes import FakeStatRepository
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import open_pool
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, UserId
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    CounterSnapshot,
    Membership,
    ReactionCount,
    SubscriberReading,
    UserProfile,
)
from tgstat.domain.planning import FollowUp
from tgstat.ports.repository import ChannelBusyError, StatRepository


@pytest.fixture(name="any_repo", params=["fake", "postgres"])
async def _any_repo(request: pytest.FixtureRequest) -> AsyncIterator[StatRepository]:
    async with contextlib.AsyncExitStack() as stack:
        repo: StatRepository
        if request.param == "fake":
            repo = FakeStatRepository()
        else:
            db_url: str = request.getfixturevalue("db_url")
            repo = PostgresStatRepository(await stack.enter_async_context(open_pool(db_url, 4)))
        async with repo.session() as s, s.transaction():
            pk = await s.upsert_session(sealed_session())
            await s.upsert_channel(channel(pk))
        yield repo


StoredPost = tuple[int | None, int | None, int | None, datetime | None]
"""(views, comments, grouped_id, deleted_at) of a stored post."""


class Peek(Protocol):
    """Reads stored state the ports do not return, the same way for both implementations."""

    async def post(self, post_id: int) -> StoredPost: ...

    async def subscriber_readings(self) -> list[tuple[datetime, int]]: ...

    async def last_collected(self) -> datetime | None: ...


@attrs.frozen
class _FakePeek:
    repo: FakeStatRepository

    async def post(self, post_id: int) -> StoredPost:
        st = self.repo.post(CHANNEL, post_id)
        c = st.post.counters
        return (c.views, c.comments, st.post.grouped_id, st.deleted_at)

    async def subscriber_readings(self) -> list[tuple[datetime, int]]:
        return [(r.taken_at, r.subscribers) for r in self.repo.subscriber_readings(CHANNEL)]

    async def last_collected(self) -> datetime | None:
        return self.repo.state.last_collected.get(CHANNEL)


@attrs.frozen
class _SqlPeek:
    url: str

    async def post(self, post_id: int) -> StoredPost:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT views, comments_messages_count, grouped_id, deleted_at FROM stat_post"
                " WHERE tg_channel_id = %s AND tg_post_id = %s",
                (CHANNEL, post_id),
            ).fetchone()
        assert row is not None
        return (row[0], row[1], row[2], row[3])

    async def subscriber_readings(self) -> list[tuple[datetime, int]]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT taken_at, subscribers FROM stat_channel_snapshot"
                " WHERE tg_channel_id = %s ORDER BY taken_at",
                (CHANNEL,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    async def last_collected(self) -> datetime | None:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                "SELECT last_collected_at FROM config__tg_channel WHERE tg_channel_id = %s",
                (CHANNEL,),
            ).fetchone()
        assert row is not None
        value: datetime | None = row[0]
        return value


@pytest.fixture(name="peek")
def _peek(any_repo: StatRepository, request: pytest.FixtureRequest) -> Peek:
    if isinstance(any_repo, FakeStatRepository):
        return _FakePeek(any_repo)
    return _SqlPeek(request.getfixturevalue("db_url"))


class TestRepositoryContract:
    """Behaviour every StatRepository implementation guarantees."""

    async def test_upsert_is_idempotent(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            for _ in range(2):
                async with s.transaction():
                    await s.upsert_posts(CHANNEL, [post(1), post(3)], at(10))
            assert await s.max_post_id(CHANNEL) == 3
            tracked = await s.tracked_posts(CHANNEL)
            reactions = (ReactionCount.emoji("👍", 4), ReactionCount.emoji("🔥", 3))
            async with s.transaction():  # an unreported counter keeps the stored one
                await s.upsert_posts(CHANNEL, [post(1, views=None, reactions=reactions)], at(20))
            again = await s.tracked_posts(CHANNEL)
        assert [t.id for t in tracked] == [1, 3]
        assert [(t.views, t.forwards, t.reactions, t.comments) for t in tracked] == [
            (10, 1, 0, 0)
        ] * 2
        counters = [(t.views, t.forwards, t.reactions, t.comments) for t in again]
        assert counters == [(10, 1, 7, 0), (10, 1, 0, 0)]

    async def test_last_collected_keeps_the_latest_instant(
        self, any_repo: StatRepository, peek: Peek
    ) -> None:
        assert await peek.last_collected() is None
        async with any_repo.session() as s:
            for instant in (at(10), at(30), at(20)):  # a late run does not move it back
                async with s.transaction():
                    await s.mark_collected(CHANNEL, instant)
        assert await peek.last_collected() == at(30)

    async def test_rollback_on_error(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            with pytest.raises(KeyError):
                async with s.transaction():
                    await s.upsert_posts(CHANNEL, [post(1)], at(0))
                    raise KeyError("boom")
            assert await s.max_post_id(CHANNEL) is None

    async def test_write_outside_transaction_refused(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            with pytest.raises(RuntimeError):
                await s.upsert_posts(CHANNEL, [post(1)], at(0))

    async def test_comment_stats_windows_are_inclusive(self, any_repo: StatRepository) -> None:
        p = post(1, date=at(hours=1))
        h1, h24 = Horizon.H1.instant(p.date), Horizon.H24.instant(p.date)
        dates = [
            h1 - timedelta(seconds=1),
            h1,
            h1 + timedelta(seconds=1),
            h24,
            h24 + timedelta(microseconds=1),
        ]
        comments = [
            Comment(
                CommentId(i + 1),
                p.id,
                d,
                AuthorKind.USER if i % 2 else AuthorKind.CHANNEL,
                100 + i % 3,
            )
            for i, d in enumerate(dates)
        ]
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [p], at(0))
                await s.add_comments(CHANNEL, comments)
            stats = (await s.comment_stats(CHANNEL, [p.id]))[p.id]
        assert (stats.count_at_1h, stats.count_at_24h) == (2, 4)
        assert (stats.users, stats.channels) == (2, 3)

    async def test_snapshots_near(self, any_repo: StatRepository) -> None:
        snaps = [CounterSnapshot(PostId(1), at(m), views=m) for m in (50, 58, 60, 66)]
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1)], at(0))
                await s.add_snapshots(CHANNEL, snaps)
            near = await s.snapshots_near(CHANNEL, [(PostId(1), at(60))], timedelta(minutes=5))
        assert [x.views for x in near[PostId(1)]] == [58, 60]

    async def test_latest_membership_and_cursor(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            async with s.transaction():
                await s.save_memberships(
                    CHANNEL,
                    [
                        Membership(CHANNEL, user(5), at(0), at(1), True),
                        Membership(CHANNEL, user(5), at(2), None, False),
                    ],
                    at(3),
                )
                await s.advance_admin_log_cursor(CHANNEL, EventId(9))
                await s.advance_admin_log_cursor(CHANNEL, EventId(4))
            latest = await s.latest_memberships(CHANNEL, [UserId(5), UserId(6)])
            cursor = (await s.get_channel(CHANNEL)).admin_log_cursor
        assert list(latest) == [5]
        assert latest[UserId(5)].joined_at == at(2)
        assert cursor == 9

    async def test_followups_pending_until_marked(self, any_repo: StatRepository) -> None:
        f1 = FollowUp(CHANNEL, PostId(1), Horizon.H1, at(60))
        f24 = FollowUp(CHANNEL, PostId(1), Horizon.H24, at(24 * 60))
        async with any_repo.session() as s:
            async with s.transaction():
                await s.add_followups([f1, f24, f1])
            assert await s.pending_followups(CHANNEL, at(0)) == [f1, f24]
            assert await s.pending_followups(CHANNEL, at(60)) == [f24]
            async with s.transaction():
                await s.mark_followup_scheduled(f24, at(1))
            assert await s.pending_followups(CHANNEL, at(0)) == [f1]

    async def test_sealed_session_count(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            before = await s.sealed_session_count()
            async with s.transaction():
                await s.upsert_session(
                    attrs.evolve(sealed_session("+10000000007"), session_bytes=None)
                )
                await s.upsert_session(sealed_session("+10000000008"))
            assert await s.sealed_session_count() == before + 1

    async def test_followups_unmeasured_until_measured(self, any_repo: StatRepository) -> None:
        f1 = FollowUp(CHANNEL, PostId(1), Horizon.H1, at(60))
        f24 = FollowUp(CHANNEL, PostId(1), Horizon.H24, at(24 * 60))
        async with any_repo.session() as s:
            async with s.transaction():
                await s.add_followups([f1, f24])
                await s.mark_followup_scheduled(f1, at(1))  # handed over is not measured
            assert await s.unmeasured_followups(CHANNEL, at(59)) == []
            assert await s.unmeasured_followups(CHANNEL, at(60)) == [f1]
            assert await s.unmeasured_followups(CHANNEL, at(24 * 60)) == [f1, f24]
            async with s.transaction():
                await s.mark_followups_measured(CHANNEL, [(f1, at(72)), (f24, at(24 * 60 - 2))])
                await s.mark_followups_measured(CHANNEL, [(f1, at(99))])  # the first one stays
            assert await s.unmeasured_followups(CHANNEL, at(10**5)) == []

    async def test_channels_with_unmeasured_followups(self, any_repo: StatRepository) -> None:
        other = ChannelId(1777000099)
        f1 = FollowUp(CHANNEL, PostId(1), Horizon.H1, at(60))
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_channel(attrs.evolve(await s.get_channel(CHANNEL), channel_id=other))
                await s.add_followups([f1, FollowUp(other, PostId(1), Horizon.H1, at(90))])
            both = [CHANNEL, other]
            assert await s.channels_with_unmeasured(both, at(59)) == set()
            assert await s.channels_with_unmeasured(both, at(60)) == {CHANNEL}
            assert await s.channels_with_unmeasured(both, at(90)) == {CHANNEL, other}
            assert await s.channels_with_unmeasured([other], at(90)) == {other}
            assert await s.channels_with_unmeasured([], at(90)) == set()
            async with s.transaction():
                await s.mark_followups_measured(CHANNEL, [(f1, at(60))])
            assert await s.channels_with_unmeasured(both, at(90)) == {other}

    async def test_album_post_ids(self, any_repo: StatRepository) -> None:
        album, other = 13_900_000_000_000_007, 13_900_000_000_000_008
        posts = [
            attrs.evolve(post(i), grouped_id=g)
            for i, g in ((1, album), (2, album), (3, None), (4, other), (5, album))
        ]
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(0))
                await s.mark_deleted(CHANNEL, [PostId(5)], at(1))  # gone: not asked for
            assert await s.album_post_ids(CHANNEL, {album}) == [1, 2]
            assert await s.album_post_ids(CHANNEL, {album, other}) == [1, 2, 4]
            assert await s.album_post_ids(CHANNEL, set()) == []
            assert await s.album_post_ids(ChannelId(5), {album}) == []

    async def test_snapshots_around(self, any_repo: StatRepository) -> None:
        snaps = [CounterSnapshot(PostId(1), at(m), views=m) for m in (10, 50, 70, 200)]
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1), post(2)], at(0))
                await s.add_snapshots(CHANNEL, snaps)
            around = await s.snapshots_around(
                CHANNEL,
                [(PostId(1), at(60)), (PostId(1), at(70)), (PostId(1), at(5)), (PostId(2), at(1))],
            )
        # 60: 50 before, 70 after; 70: itself on both sides; 5: nothing before, 10 after;
        # post 2 has no snapshot at all
        assert {k: [x.views for x in v] for k, v in around.items()} == {1: [10, 50, 70]}

    async def test_older_posts_descending_below_cursor(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(i, date=at(i)) for i in range(1, 8)], at(0))
            assert await s.older_posts(CHANNEL, at(6), None, 3) == [5, 4, 3]
            assert await s.older_posts(CHANNEL, at(6), PostId(3), 3) == [2, 1]

    async def test_channel_lock(self, any_repo: StatRepository) -> None:
        async with any_repo.channel_session(CHANNEL):
            with pytest.raises(ChannelBusyError):
                async with any_repo.channel_session(CHANNEL):
                    pass
        async with any_repo.channel_session(CHANNEL):
            pass

    async def test_store_session_file_keeps_status(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            (stored,) = await s.enabled_sessions()
            assert stored.pk is not None
            async with s.transaction():
                await s.mark_session_banned(stored.pk, "revoked", at(0))
                await s.store_session_file(stored.pk, b"new sealed file")
            again = await s.get_session(stored.pk)
        assert again.session_bytes == b"new sealed file"
        assert again.status.value == "banned"


class TestRealTelegramShapesContract:
    """Deleted posts, unreadable threads, albums, comment authors of every kind, removals,
    invite links and subscriber readings behave alike in both implementations."""

    async def test_deleted_posts_leave_the_plans_and_keep_counters(
        self, any_repo: StatRepository, peek: Peek
    ) -> None:
        posts = [post(i, views=i * 100, comments=i, date=at(i)) for i in range(1, 5)]
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(10))
                await s.mark_deleted(CHANNEL, [PostId(2), PostId(4)], at(20))
            async with s.transaction():
                await s.mark_deleted(CHANNEL, [PostId(2), PostId(3)], at(30))
            assert [t.id for t in await s.tracked_posts(CHANNEL)] == [1]
            assert [t.id for t in await s.tracked_posts(CHANNEL, [PostId(2), PostId(1)])] == [1]
            assert [t.id for t in await s.tracked_posts(CHANNEL, since=at(2))] == []
            assert await s.older_posts(CHANNEL, at(60), None, 10) == [1]
            # ids are never reused: posts above a deleted highest one are still the new ones
            assert await s.max_post_id(CHANNEL) == 4
        assert await peek.post(1) == (100, 1, None, None)
        assert await peek.post(2) == (200, 2, None, at(20))  # the first mark stays
        assert await peek.post(3) == (300, 3, None, at(30))
        assert await peek.post(4) == (400, 4, None, at(20))

    async def test_mark_deleted_refused_outside_a_transaction(
        self, any_repo: StatRepository
    ) -> None:
        async with any_repo.session() as s:
            with pytest.raises(RuntimeError):
                await s.mark_deleted(CHANNEL, [PostId(1)], at(0))
            with pytest.raises(RuntimeError):
                await s.set_thread_unreadable(CHANNEL, [PostId(1)], at(0))

    async def test_thread_unreadable_set_moved_and_cleared(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1), post(2), post(3)], at(0))
                await s.set_thread_unreadable(CHANNEL, [PostId(1), PostId(2)], at(5))
            assert [t.thread_unreadable_at for t in await s.tracked_posts(CHANNEL)] == [
                at(5),
                at(5),
                None,
            ]
            async with s.transaction():
                await s.set_thread_unreadable(CHANNEL, [PostId(1)], at(65))  # failed again
                await s.set_thread_unreadable(CHANNEL, [PostId(2)], None)  # read at last
                await s.upsert_posts(CHANNEL, [post(1, views=99)], at(70))  # kept by upserts
            assert [t.thread_unreadable_at for t in await s.tracked_posts(CHANNEL)] == [
                at(65),
                None,
                None,
            ]

    async def test_grouped_id_round_trip(self, any_repo: StatRepository, peek: Peek) -> None:
        album = 13_900_000_000_000_001  # Telegram's grouped ids are large
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(
                    CHANNEL,
                    [post(1), attrs.evolve(post(2), grouped_id=album), post(3)],
                    at(0),
                )
            async with s.transaction():  # the update path carries it too
                await s.upsert_posts(CHANNEL, [attrs.evolve(post(1), grouped_id=album)], at(5))
        assert [(await peek.post(i))[2] for i in (1, 2, 3)] == [album, album, None]

    async def test_every_comment_counts_only_people_and_channels_are_distinct(
        self, any_repo: StatRepository
    ) -> None:
        group = 1_888_000_555  # the discussion group: the sender of an anonymous admin
        p = post(1, date=at(0))
        rows = [
            (AuthorKind.USER, 42, at(10)),
            (AuthorKind.CHANNEL, 777, at(20)),
            (AuthorKind.ANONYMOUS, group, at(30)),
            (AuthorKind.NONE, None, at(40)),
            (AuthorKind.NONE, None, at(hours=2)),
            (AuthorKind.ANONYMOUS, group, at(hours=25)),
            (AuthorKind.USER, 42, at(hours=26)),
        ]
        comments = [
            Comment(CommentId(i + 1), p.id, date, kind, author)
            for i, (kind, author, date) in enumerate(rows)
        ]
        only_anonymous = post(2, date=at(0))
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [p, only_anonymous], at(0))
                await s.add_comments(CHANNEL, comments)
                await s.add_comments(
                    CHANNEL,
                    [
                        Comment(CommentId(1), only_anonymous.id, at(5), AuthorKind.NONE, None),
                        Comment(CommentId(2), only_anonymous.id, at(6), AuthorKind.ANONYMOUS, 9),
                    ],
                )
            stats = await s.comment_stats(CHANNEL, [p.id, only_anonymous.id])
            tracked = await s.tracked_posts(CHANNEL, [p.id])
        # users {42}, channels {777}; totals: 4 within 1 h, 5 within 24 h
        st = stats[p.id]
        assert (st.users, st.channels, st.count_at_1h, st.count_at_24h) == (1, 1, 4, 5)
        st = stats[only_anonymous.id]
        assert (st.users, st.channels, st.count_at_1h, st.count_at_24h) == (0, 0, 2, 2)
        assert tracked[0].last_comment_id == 7

    async def test_membership_fields_round_trip(self, any_repo: StatRepository) -> None:
        full = UserProfile(
            UserId(5),
            first_name="Bot",
            last_name="Five",
            username="five_bot",
            premium=False,
            scam=False,
            verified=True,
            phone="+100",
            bot=True,
        )
        removed = Membership(
            CHANNEL,
            full,
            at(0),
            at(30),
            True,
            is_removed_by_admin=True,
            invite_link="https://t.me/+AbCdEf",
            invite_link_title="Spring ads",
        )
        id_only = Membership(CHANNEL, UserProfile(UserId(6)), at(1), None, False)
        left_unseen_join = Membership(
            CHANNEL, user(7), None, at(2), None, is_removed_by_admin=False
        )
        async with any_repo.session() as s:
            async with s.transaction():
                await s.save_memberships(CHANNEL, [removed, id_only, left_unseen_join], at(3))
            latest = await s.latest_memberships(CHANNEL, [UserId(5), UserId(6), UserId(7)])
            assert {u: attrs.evolve(m, pk=None) for u, m in latest.items()} == {
                5: removed,
                6: id_only,
                7: left_unseen_join,
            }
            # the update path: the open episode is closed by an admin's removal
            stored = latest[UserId(6)]
            kicked = attrs.evolve(stored, left_at=at(50), is_removed_by_admin=True)
            async with s.transaction():
                await s.save_memberships(CHANNEL, [kicked], at(51))
            assert (await s.latest_memberships(CHANNEL, [UserId(6)]))[UserId(6)] == kicked

    async def test_subscriber_readings(self, any_repo: StatRepository, peek: Peek) -> None:
        async with any_repo.session() as s:
            assert await s.last_subscriber_reading_at(CHANNEL) is None
            async with s.transaction():
                await s.add_subscriber_reading(SubscriberReading(CHANNEL, at(0), 1000))
                await s.add_subscriber_reading(SubscriberReading(CHANNEL, at(60), 1010))
            async with s.transaction():  # the same instant again: stored once, first kept
                await s.add_subscriber_reading(SubscriberReading(CHANNEL, at(60), 1011))
            assert await s.last_subscriber_reading_at(CHANNEL) == at(60)
            assert await s.last_subscriber_reading_at(ChannelId(5)) is None
            with pytest.raises(RuntimeError):
                await s.add_subscriber_reading(SubscriberReading(CHANNEL, at(120), 1))
        assert await peek.subscriber_readings() == [(at(0), 1000), (at(60), 1010)]

    async def test_one_followup_per_album_and_horizon(self, any_repo: StatRepository) -> None:
        album = 13_900_000_000_000_002
        first = FollowUp(CHANNEL, PostId(5), Horizon.H1, at(60), album)
        # a message of the album first seen in a later cycle
        later = FollowUp(CHANNEL, PostId(6), Horizon.H1, at(60), album)
        single = FollowUp(CHANNEL, PostId(7), Horizon.H1, at(61))
        async with any_repo.session() as s:
            async with s.transaction():
                await s.add_followups([first, single])
            async with s.transaction():
                await s.add_followups([later])
            pending = await s.pending_followups(CHANNEL, at(0))
        assert pending == [first, single]
        assert pending[0].key == f"tgstat:{CHANNEL}:album{album}:1h"
