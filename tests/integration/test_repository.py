"""PostgresStatRepository against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import psycopg
import pytest

from tests.builders import CHANNEL, at, channel, post, sealed_session, user
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.domain.horizons import Horizon, HorizonValues
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, UserId
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    CounterSnapshot,
    Membership,
    ReactionCount,
    SessionStatus,
    SubscriberReading,
    UserProfile,
)
from tgstat.domain.planning import FollowUp
from tgstat.ports.repository import (
    ChannelBusyError,
    UnknownChannelError,
    UnknownSessionError,
)

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture(name="configured")
async def _configured(repo: PostgresStatRepository) -> PostgresStatRepository:
    """The repository with one session and the test channel configured."""
    async with repo.session() as s, s.transaction():
        pk = await s.upsert_session(sealed_session())
        await s.upsert_channel(channel(pk))
    return repo


def table(db: Conn, query: str) -> list[tuple[object, ...]]:
    return db.execute(query).fetchall()


class TestConfiguration:
    """Sessions and channels are upserted by their natural keys, never duplicated."""

    async def test_session_upsert_by_phone(self, repo: PostgresStatRepository, db: Conn) -> None:
        async with repo.session() as s, s.transaction():
            first = await s.upsert_session(sealed_session())
            second = await s.upsert_session(sealed_session())
        assert first == second
        assert table(db, "SELECT count(*) FROM config__tg_bot_session_pool") == [(1,)]

    async def test_sealed_bytes_round_trip(self, repo: PostgresStatRepository) -> None:
        async with repo.session() as s:
            async with s.transaction():
                pk = await s.upsert_session(sealed_session())
            loaded = await s.get_session(pk)
        assert loaded.session_bytes == b"sealed"
        assert loaded.api_hash == b"sealed-hash"
        assert loaded.status is SessionStatus.ENABLED

    async def test_banned_session_is_not_offered(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        async with repo.session() as s:
            async with s.transaction():
                pk = await s.upsert_session(sealed_session("+1"))
                await s.upsert_session(sealed_session("+2"))
                await s.mark_session_banned(pk, "AuthKeyUnregisteredError", at())
            enabled = await s.enabled_sessions()
        assert [e.phone_number for e in enabled] == ["+2"]
        assert table(
            db,
            "SELECT status, status_reason FROM config__tg_bot_session_pool"
            " WHERE phone_number = '+1'",
        ) == [("banned", "AuthKeyUnregisteredError")]

    async def test_unknown_rows_raise(self, repo: PostgresStatRepository) -> None:
        async with repo.session() as s:
            with pytest.raises(UnknownChannelError):
                await s.get_channel(ChannelId(42))
            with pytest.raises(UnknownSessionError):
                await s.get_session(pk=999)  # type: ignore[arg-type]

    async def test_channel_references_its_session_by_pk(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        assert table(
            db,
            "SELECT c.tg_channel_id, s.phone_number FROM config__tg_channel c"
            " JOIN config__tg_bot_session_pool s ON s.pk = c.config__tg_bot_session_pool_pk",
        ) == [(CHANNEL, "+10000000001")]

    async def test_readding_a_channel_renames_it(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            old = await s.get_channel(CHANNEL)
            async with s.transaction():
                await s.upsert_channel(channel(old.session_pk, name="Renamed"))
            assert (await s.get_channel(CHANNEL)).name == "Renamed"
        assert table(db, "SELECT count(*) FROM config__tg_channel") == [(1,)]


class TestTransactions:
    """The service owns the transaction: nothing is written outside it or after a failure."""

    async def test_failed_transaction_leaves_nothing(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            with pytest.raises(ZeroDivisionError):
                async with s.transaction():
                    await s.upsert_posts(CHANNEL, [post(1), post(2)], at(10))
                    await s.advance_admin_log_cursor(CHANNEL, EventId(77))
                    _ = 1 / 0
        assert table(db, "SELECT count(*) FROM stat_post") == [(0,)]
        assert table(db, "SELECT admin_log_cursor FROM config__tg_channel") == [(0,)]

    async def test_writes_outside_a_transaction_are_refused(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            with pytest.raises(RuntimeError, match="transaction"):
                await s.upsert_posts(CHANNEL, [post(1)], at(10))
        assert table(db, "SELECT count(*) FROM stat_post") == [(0,)]


class TestPosts:
    """Post upserts are idempotent, bulk, and keep known values over unknown ones."""

    async def test_same_input_twice_gives_the_same_rows(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        posts = [post(i, views=i * 10) for i in range(1, 6)]
        query = "SELECT tg_post_id, views, message, link FROM stat_post ORDER BY 1"
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(10))
            first = table(db, query)
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(20))
        assert table(db, query) == first
        assert len(first) == 5
        assert table(db, 'SELECT DISTINCT "timestamp" FROM stat_post') == [(at(20),)]

    async def test_mixed_new_and_stored_posts_in_one_batch(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1, views=1), post(2, views=2)], at(10))
            async with s.transaction():
                batch = [post(2, views=20), post(3, views=30), post(3, views=31)]
                await s.upsert_posts(CHANNEL, batch, at(20))
        assert table(db, 'SELECT tg_post_id, views, "timestamp" FROM stat_post ORDER BY 1') == [
            (1, 1, at(10)),
            (2, 20, at(20)),
            (3, 31, at(20)),
        ]

    async def test_snapshots_mixed_new_and_stored(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        first = [CounterSnapshot(PostId(i), at(5), views=i) for i in (1, 2)]
        second = [CounterSnapshot(PostId(i), at(5), views=i) for i in (2, 3)]
        second += [CounterSnapshot(PostId(1), at(10), views=9)]
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1), post(2), post(3)], at(0))
                await s.add_snapshots(CHANNEL, first)
            async with s.transaction():
                await s.add_snapshots(CHANNEL, second)
        assert table(
            db, "SELECT tg_post_id, taken_at, views FROM stat_post_snapshot ORDER BY 1, 2"
        ) == [(1, at(5), 1), (1, at(10), 9), (2, at(5), 2), (3, at(5), 3)]

    async def test_unknown_counter_keeps_the_stored_value(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1, views=50)], at(10))
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1, views=None)], at(20))
        assert table(db, "SELECT views FROM stat_post") == [(50,)]

    async def test_max_post_id(self, configured: PostgresStatRepository) -> None:
        async with configured.session() as s:
            assert await s.max_post_id(CHANNEL) is None
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(3), post(17), post(5)], at(30))
            assert await s.max_post_id(CHANNEL) == 17

    async def test_bulk_upsert_of_thousands(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        n = 5000
        posts = [post(i, views=i) for i in range(1, n + 1)]
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(10))
                await s.add_snapshots(CHANNEL, [p.counters.snapshot() for p in posts])
            async with s.transaction():  # the staging table is reused within a connection
                await s.upsert_posts(CHANNEL, posts[:10], at(11))
        assert table(db, "SELECT count(*), sum(views) FROM stat_post") == [(n, n * (n + 1) // 2)]
        assert table(db, "SELECT count(*) FROM stat_post_snapshot") == [(n,)]

    async def test_snapshots_stored_once_and_read_by_window(
        self, configured: PostgresStatRepository
    ) -> None:
        pid = PostId(1)
        snaps = [CounterSnapshot(pid, at(m), views=m, reactions=1) for m in (0, 5, 10, 15)]
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1)], at(0))
                await s.add_snapshots(CHANNEL, snaps)
                await s.add_snapshots(CHANNEL, snaps)
            near = await s.snapshots_near(
                CHANNEL, [(pid, at(7.5)), (PostId(2), at(5))], timedelta(minutes=2.5)
            )
        assert near == {pid: snaps[1:3]}

    async def test_horizon_values_none_keeps_stored(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1)], at(0))
                await s.set_horizon_values(CHANNEL, [HorizonValues(PostId(1), views_1h=300)])
            async with s.transaction():
                await s.set_horizon_values(CHANNEL, [HorizonValues(PostId(1), views_24h=900)])
                await s.upsert_posts(CHANNEL, [post(1, views=950)], at(1))
        assert table(db, "SELECT views, views_1h, views_24h FROM stat_post") == [(950, 300, 900)]


class TestRealTelegramShapes:
    """Albums, deletions, unreadable threads and subscriber readings land in their columns."""

    async def test_deleted_post_keeps_its_row_and_counters(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        album = 13_900_000_000_000_003
        posts = [attrs.evolve(post(i, views=i * 10), grouped_id=album) for i in (1, 2)]
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at(10))
                await s.set_horizon_values(CHANNEL, [HorizonValues(PostId(2), views_1h=15)])
            async with s.transaction():
                await s.mark_deleted(CHANNEL, [PostId(2), PostId(99)], at(40))
                await s.mark_deleted(CHANNEL, [PostId(2)], at(45))
        assert table(
            db,
            'SELECT tg_post_id, grouped_id, views, views_1h, "timestamp", deleted_at'
            " FROM stat_post ORDER BY 1",
        ) == [
            (1, album, 10, None, at(10), None),
            (2, album, 20, 15, at(10), at(40)),
        ]

    async def test_thread_unreadable_column(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s, s.transaction():
            await s.upsert_posts(CHANNEL, [post(1), post(2)], at(0))
            await s.set_thread_unreadable(CHANNEL, [PostId(1), PostId(2)], at(5))
            await s.set_thread_unreadable(CHANNEL, [PostId(2)], None)
        assert table(db, "SELECT tg_post_id, thread_unreadable_at FROM stat_post ORDER BY 1") == [
            (1, at(5)),
            (2, None),
        ]

    async def test_subscriber_readings_rows(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s, s.transaction():
            for minutes, n in ((0, 1200), (60, 1190), (60, 1250)):
                await s.add_subscriber_reading(SubscriberReading(CHANNEL, at(minutes), n))
        assert table(
            db, "SELECT tg_channel_id, taken_at, subscribers FROM stat_channel_snapshot ORDER BY pk"
        ) == [(CHANNEL, at(0), 1200), (CHANNEL, at(60), 1190)]

    async def test_album_followup_rows(self, configured: PostgresStatRepository, db: Conn) -> None:
        album = 13_900_000_000_000_004
        async with configured.session() as s, s.transaction():
            await s.add_followups(
                [
                    FollowUp(CHANNEL, PostId(3), Horizon.H1, at(60), album),
                    FollowUp(CHANNEL, PostId(4), Horizon.H1, at(60), album),
                    FollowUp(CHANNEL, PostId(4), Horizon.H24, at(24 * 60), album),
                ]
            )
        assert table(
            db, "SELECT tg_post_id, horizon_s, grouped_id FROM stat_followup ORDER BY 2, 1"
        ) == [(3, 3600, album), (4, 86400, album)]


class TestReactions:
    """A post's reaction rows become exactly the last observed set."""

    async def test_replace(self, configured: PostgresStatRepository, db: Conn) -> None:
        first = [ReactionCount.emoji("👍", 5), ReactionCount.custom(5368324170671202286, 1)]
        second = [ReactionCount.emoji("👍", 8), ReactionCount.paid(3)]
        query = (
            "SELECT reaction_emoticon, reaction_emoticon_code, reaction_kind, reaction_count"
            " FROM stat_reaction ORDER BY reaction_emoticon_code"
        )
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1), post(2)], at(0))
                await s.replace_reactions(
                    CHANNEL, {PostId(1): first, PostId(2): [ReactionCount.emoji("❤", 2)]}, at(0)
                )
            async with s.transaction():
                await s.replace_reactions(CHANNEL, {PostId(1): second}, at(5))
        assert table(db, query) == [
            ("👍", "U+1F44D", "emoji", 8),
            ("❤", "U+2764", "emoji", 2),
            ("⭐", "paid", "paid", 3),
        ]

    async def test_no_reactions_left_deletes_rows(
        self, configured: PostgresStatRepository, db: Conn
    ) -> None:
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1)], at(0))
                await s.replace_reactions(CHANNEL, {PostId(1): [ReactionCount.paid(1)]}, at(0))
            async with s.transaction():
                await s.replace_reactions(CHANNEL, {PostId(1): []}, at(5))
        assert table(db, "SELECT count(*) FROM stat_reaction") == [(0,)]


class TestComments:
    """Comments are stored once; stats count distinct authors and inclusive windows."""

    async def test_stats(self, configured: PostgresStatRepository) -> None:
        p = post(1, date=at(hours=8))
        comments = [
            Comment(CommentId(11), p.id, at(hours=8, minutes=3), AuthorKind.USER, 42),
            Comment(CommentId(12), p.id, at(hours=9), AuthorKind.CHANNEL, 777),  # exactly 1 h
            Comment(CommentId(13), p.id, at(hours=9, minutes=0.02), AuthorKind.USER, 42),
            Comment(CommentId(14), p.id, at(hours=20), AuthorKind.USER, 43),
        ]
        async with configured.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [p], at(hours=8))
                await s.add_comments(CHANNEL, comments)
                await s.add_comments(CHANNEL, comments[:2])
            stats = await s.comment_stats(CHANNEL, [p.id, PostId(99)])
            tracked = await s.tracked_posts(CHANNEL, [p.id])
        assert list(stats) == [p.id]
        st = stats[p.id]
        assert (st.users, st.channels, st.count_at_1h, st.count_at_24h) == (2, 1, 2, 4)
        assert tracked[0].last_comment_id == 14

    async def test_author_kinds_stored(self, configured: PostgresStatRepository, db: Conn) -> None:
        p = post(1)
        comments = [
            Comment(CommentId(21), p.id, at(5), AuthorKind.ANONYMOUS, 1888000555),
            Comment(CommentId(22), p.id, at(6), AuthorKind.NONE, None),
        ]
        async with configured.session() as s, s.transaction():
            await s.upsert_posts(CHANNEL, [p], at(0))
            await s.add_comments(CHANNEL, comments)
        assert table(
            db, "SELECT tg_comment_id, author_kind, author_id FROM stat_comment ORDER BY 1"
        ) == [(21, "anonymous", 1888000555), (22, "none", None)]


class TestMemberships:
    """Episodes are saved by pk or inserted, and the cursor only moves forward."""

    async def test_close_and_reopen(self, configured: PostgresStatRepository, db: Conn) -> None:
        uid = UserId(42)
        async with configured.session() as s:
            async with s.transaction():
                opened = Membership(CHANNEL, user(42, "ann"), at(0), None, True)
                await s.save_memberships(CHANNEL, [opened], at(1))
            latest = await s.latest_memberships(CHANNEL, [uid, UserId(5)])
            assert set(latest) == {uid}
            stored = latest[uid]
            assert stored.pk is not None
            assert stored.is_open
            async with s.transaction():
                closed = Membership(CHANNEL, user(42, "ann"), at(0), at(60), True, pk=stored.pk)
                reopened = Membership(CHANNEL, user(42, "ann_2"), at(90), None, False)
                await s.save_memberships(CHANNEL, [closed, reopened], at(100))
            newest = (await s.latest_memberships(CHANNEL, [uid]))[uid]
        assert newest.user.username == "ann_2"
        assert newest.is_open
        assert table(
            db, "SELECT user_name, joined_at, left_at, is_joined_by_link FROM stat_user ORDER BY pk"
        ) == [
            ("ann", at(0), at(60), True),
            ("ann_2", at(90), None, False),
        ]

    async def test_new_fields_stored(self, configured: PostgresStatRepository, db: Conn) -> None:
        bot = UserProfile(UserId(8), first_name="Helper", username="helper_bot", bot=True)
        async with configured.session() as s:
            async with s.transaction():
                await s.save_memberships(
                    CHANNEL,
                    [
                        Membership(
                            CHANNEL,
                            bot,
                            at(0),
                            None,
                            True,
                            invite_link="https://t.me/+Q1",
                            invite_link_title=None,
                        ),
                        Membership(CHANNEL, UserProfile(UserId(9)), None, at(4), None, None),
                    ],
                    at(5),
                )
            opened = (await s.latest_memberships(CHANNEL, [UserId(8)]))[UserId(8)]
            async with s.transaction():
                kicked = attrs.evolve(opened, left_at=at(9), is_removed_by_admin=True)
                await s.save_memberships(CHANNEL, [kicked], at(10))
        assert table(
            db,
            "SELECT tg_user_id, user_name, first_name, bot, joined_at, left_at,"
            " is_joined_by_link, is_removed_by_admin, invite_link, invite_link_title"
            " FROM stat_user ORDER BY pk",
        ) == [
            (8, "helper_bot", "Helper", True, at(0), at(9), True, True, "https://t.me/+Q1", None),
            (9, None, None, None, None, at(4), None, None, None, None),
        ]

    async def test_cursor_never_moves_back(self, configured: PostgresStatRepository) -> None:
        async with configured.session() as s:
            async with s.transaction():
                await s.advance_admin_log_cursor(CHANNEL, EventId(105))
                await s.advance_admin_log_cursor(CHANNEL, EventId(101))
            assert (await s.get_channel(CHANNEL)).admin_log_cursor == 105


class TestChannelLock:
    """Two collections of one channel never overlap."""

    async def test_second_holder_is_refused(self, configured: PostgresStatRepository) -> None:
        async with configured.channel_session(CHANNEL):
            with pytest.raises(ChannelBusyError):
                async with configured.channel_session(CHANNEL):
                    pass
            async with configured.channel_session(ChannelId(5)):
                pass  # other channels are not blocked
        async with configured.channel_session(CHANNEL):
            pass  # released on exit

    async def test_refused_across_pools(
        self, configured: PostgresStatRepository, db_url: str
    ) -> None:
        """Another process (here: another pool) is refused too."""
        from tgstat.app.database import open_pool

        async with open_pool(db_url, max_size=1) as other_pool:
            other = PostgresStatRepository(other_pool)
            async with configured.channel_session(CHANNEL):
                with pytest.raises(ChannelBusyError):
                    async with other.channel_session(CHANNEL):
                        pass

    async def test_released_after_failure_inside(self, configured: PostgresStatRepository) -> None:
        with pytest.raises(ZeroDivisionError):
            async with configured.channel_session(CHANNEL) as s, s.transaction():
                _ = 1 / 0
        async with configured.channel_session(CHANNEL):
            pass

    async def test_concurrent_attempts_one_wins(self, configured: PostgresStatRepository) -> None:
        gate = asyncio.Event()

        async def attempt() -> str:
            try:
                async with configured.channel_session(CHANNEL):
                    await gate.wait()
                    return "ran"
            except ChannelBusyError:
                gate.set()
                return "busy"

        results = await asyncio.gather(attempt(), attempt())
        assert sorted(results) == ["busy", "ran"]
