"""One suite, two implementations: the fake and the PostgreSQL repository must agree."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.builders import CHANNEL, at, channel, post, sealed_session, user
from tests.fakes import FakeStatRepository
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import open_pool
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import CommentId, EventId, PostId, UserId
from tgstat.domain.model import AuthorKind, Comment, CounterSnapshot, Membership
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


class TestRepositoryContract:
    """Behaviour every StatRepository implementation guarantees."""

    async def test_upsert_is_idempotent(self, any_repo: StatRepository) -> None:
        async with any_repo.session() as s:
            for _ in range(2):
                async with s.transaction():
                    await s.upsert_posts(CHANNEL, [post(1), post(3)], at(10))
            assert await s.max_post_id(CHANNEL) == 3
            tracked = await s.tracked_posts(CHANNEL)
        assert [t.id for t in tracked] == [1, 3]

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
