"""The nine failures of issue 10, end to end: ``collect_channel`` with TelethonGateway over
real Telethon TL objects (the canned client) into the real PostgreSQL.

Each test builds the shape Telegram really produces, runs the cycles a deployment would run,
and reads the tables back with SQL; the expected rows are written by hand from the input.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from telethon.tl import types

from tests.builders import CHANNEL, T0, channel
from tests.fakes import FakeScheduler
from tests.telethon_canned import (
    PUBLIC_REQUEST,
    CannedTelegram,
    canned_client,
    comment,
    invite_link,
    member_event,
    post,
    reactions,
    thread,
    user,
)
from tests.telethon_canned import channel as tg_channel
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.domain.ids import SessionPk
from tgstat.domain.model import SealedSession
from tgstat.services.collect import CollectReport, collect_channel

Conn = psycopg.Connection[tuple[object, ...]]
DISCUSSION = 1888000001
ADMIN = 1
ALBUM = 13_571_113_171_923_293
PHOTO = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))


def at(minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours)


@attrs.define
class World:
    """One configured channel, its Telegram, and the collector's parts."""

    telegram: CannedTelegram
    gateway: TelethonGateway
    repo: PostgresStatRepository
    scheduler: FakeScheduler

    async def collect(self, now: datetime) -> CollectReport:
        return await collect_channel(
            CHANNEL,
            repository=self.repo,
            gateway=self.gateway,
            scheduler=self.scheduler,
            now=now,
        )

    def publish(self, *messages: Any) -> None:
        self.telegram.history.setdefault(CHANNEL, []).extend(messages)

    def message(self, post_id: int) -> Any:
        return next(m for m in self.telegram.history[CHANNEL] if m.id == post_id)


@pytest.fixture(name="world")
async def _world(repo: PostgresStatRepository, tmp_path: Path) -> World:
    """The channel (with a discussion group) configured in the database; 1000 subscribers."""
    async with repo.session() as s, s.transaction():
        pk = await s.upsert_session(SealedSession("+15550000001", 1, b"hash", b"session"))
        await s.upsert_channel(channel(SessionPk(pk)))
    telegram = CannedTelegram(
        dialogs=[tg_channel(CHANNEL, "Demo", "demo")],
        discussions={CHANNEL: tg_channel(DISCUSSION, "Demo chat", broadcast=False)},
        users={ADMIN: user(ADMIN, "Admin")},
        subscribers={CHANNEL: 1000},
    )
    return World(telegram, TelethonGateway(canned_client(telegram)), repo, FakeScheduler())


def posts(db: Conn, columns: str) -> list[tuple[Any, ...]]:
    return db.execute(f"SELECT tg_post_id, {columns} FROM stat_post ORDER BY tg_post_id").fetchall()


def users(db: Conn, columns: str) -> list[tuple[Any, ...]]:
    return db.execute(
        f"SELECT tg_user_id, {columns} FROM stat_user ORDER BY tg_user_id, joined_at"
    ).fetchall()


HORIZONS = (
    "views_1h, views_24h, reactions_1h, reactions_24h, comments_messages_count, "
    "comments_messages_count_1h, comments_messages_count_24h, comments_users_count, "
    "comments_channels_count"
)


class TestAlbum:
    """(1) An album is three stat_post rows sharing grouped_id, followed up once per horizon."""

    async def test_album(self, world: World, db: Conn) -> None:
        world.publish(
            post(
                CHANNEL,
                1,
                at(),
                message="Spring sale",
                media=PHOTO,
                grouped_id=ALBUM,
                views=100,
                reactions=reactions({"👍": 5}),
                replies=thread(2, DISCUSSION),
            ),
            post(CHANNEL, 2, at(), media=PHOTO, grouped_id=ALBUM, views=100),
            post(CHANNEL, 3, at(), media=PHOTO, grouped_id=ALBUM, views=100),
        )
        world.telegram.threads[(CHANNEL, 1)] = [
            comment(DISCUSSION, 501, at(10), types.PeerUser(42)),
            comment(DISCUSSION, 502, at(20), types.PeerUser(43)),
        ]

        await world.collect(at(5))
        for post_id, views in ((1, 150), (2, 140), (3, 130)):
            world.message(post_id).views = views
        await world.collect(at(hours=1))  # the album's one 1 h follow-up run

        assert posts(
            db,
            "grouped_id, message, media, views, views_1h, total_reactions_count, "
            "comments_messages_count, comments_messages_count_1h",
        ) == [
            (1, ALBUM, "Spring sale", "photo", 150, 150, 5, 2, 2),
            (2, ALBUM, None, "photo", 140, 140, 0, None, None),
            (3, ALBUM, None, "photo", 130, 130, 0, None, None),
        ]
        assert db.execute(
            "SELECT tg_post_id, grouped_id, horizon_s, due_at FROM stat_followup ORDER BY horizon_s"
        ).fetchall() == [(1, ALBUM, 3600, at(hours=1)), (1, ALBUM, 86400, at(hours=24))]
        assert len(world.scheduler.runs) == 2


class TestDeletedPost:
    """(2) A deleted post keeps its last counters, gets deleted_at and is never asked again."""

    async def test_deleted(self, world: World, db: Conn) -> None:
        world.publish(post(CHANNEL, 1, at(), views=100), post(CHANNEL, 2, at(1), views=50))

        await world.collect(at(5))
        world.message(1).views = 120
        await world.collect(at(20))
        world.telegram.delete(CHANNEL, 1)  # at +30 min
        world.message(2).views = 70
        report = await world.collect(at(35))
        await world.collect(at(40))
        await world.collect(at(hours=1))

        assert report.posts_deleted == 1
        assert posts(db, "views, views_1h, views_24h, deleted_at") == [
            (1, 120, None, None, at(35)),
            (2, 70, None, None, None),
        ]
        # new at +5 min; both refreshed at +20 and +35 (found gone); then only post 2
        assert [sorted(ids) for ids in world.telegram.read_by_id] == [[1, 2], [1, 2], [2], [2]]

    async def test_views_1h_of_the_live_post(self, world: World, db: Conn) -> None:
        """The live post next to the deleted one is measured at its 1 h instant."""
        world.publish(post(CHANNEL, 1, at(), views=100), post(CHANNEL, 2, at(), views=50))
        await world.collect(at(5))
        world.telegram.delete(CHANNEL, 1)
        world.message(2).views = 90

        await world.collect(at(hours=1))

        assert posts(db, "views, views_1h, deleted_at") == [
            (1, 100, None, at(hours=1)),
            (2, 90, 90, None),
        ]


class TestUnreadableThread:
    """(3) MSG_ID_INVALID on a thread that reports 3 comments: horizons and distinct counts
    stay NULL (never 0), and the thread is tried again once an hour, not every cycle."""

    async def test_unreadable(self, world: World, db: Conn) -> None:
        world.publish(post(CHANNEL, 1, at(), views=10, replies=thread(3, DISCUSSION)))
        # no thread in the discussion group: Telegram answers MSG_ID_INVALID

        reads = []
        for now, views in (
            (at(5), 10),
            (at(10), 20),
            (at(hours=1), 80),
            (at(hours=1, minutes=5), 85),
            (at(hours=24), 300),
        ):
            world.message(1).views = views
            await world.collect(now)
            reads.append(world.telegram.count("GetRepliesRequest"))

        # first read at +5 min; not again at +10 min or +1 h (55 min later); again at
        # +1 h 5 min (an hour after the failure) and at +24 h
        assert reads == [1, 1, 1, 2, 3]
        assert posts(db, f"views, {HORIZONS}, thread_unreadable_at") == [
            (1, 300, 80, 300, 0, 0, 3, None, None, None, None, at(hours=24))
        ]


class TestCommentAuthors:
    """(4) A user, a user as a channel, an anonymous admin (the discussion group) and a
    comment without a sender: four comments, one user, one channel."""

    async def test_four_comments(self, world: World, db: Conn) -> None:
        world.publish(post(CHANNEL, 1, at(), views=10, replies=thread(4, DISCUSSION)))
        world.telegram.threads[(CHANNEL, 1)] = [
            comment(DISCUSSION, 501, at(10), types.PeerUser(42)),
            comment(DISCUSSION, 502, at(20), types.PeerChannel(777)),
            comment(DISCUSSION, 503, at(30), types.PeerChannel(DISCUSSION)),
            comment(DISCUSSION, 504, at(40), None),
        ]
        world.telegram.add_users(user(42, "Ann"))

        await world.collect(at(45))
        await world.collect(at(hours=1))
        await world.collect(at(hours=24))

        assert posts(
            db,
            "comments_messages_count, comments_messages_count_1h, comments_messages_count_24h,"
            " comments_users_count, comments_channels_count",
        ) == [(1, 4, 4, 4, 1, 1)]
        assert db.execute(
            "SELECT tg_comment_id, date_of_comment, author_kind, author_id FROM stat_comment"
            " ORDER BY tg_comment_id"
        ).fetchall() == [
            (501, at(10), "user", 42),
            (502, at(20), "channel", 777),
            (503, at(30), "anonymous", DISCUSSION),
            (504, at(40), "none", None),
        ]


MEMBERSHIP = "joined_at, left_at, is_joined_by_link, is_removed_by_admin"


class TestRemoval:
    """(5) An admin's removal (ban toggle to banned from viewing) closes the episode."""

    async def test_kick_closes_the_episode(self, world: World, db: Conn) -> None:
        world.telegram.admin_log[CHANNEL] = [
            member_event(1, at(10), "join", 42),
            member_event(2, at(11), "join", 43),
            member_event(3, at(20), "kick", 42, admin_id=ADMIN),
            member_event(4, at(21), "leave", 43),
        ]
        world.telegram.add_users(user(42, "Ann"), user(43, "Bob"))

        await world.collect(at(30))

        assert users(db, MEMBERSHIP) == [
            (42, at(10), at(20), False, True),
            (43, at(11), at(21), False, False),
        ]


class TestMissingUser:
    """(6) A join whose user object Telegram left out is stored with the id alone, and the
    next user's join in the same page too; the cycle succeeds."""

    async def test_missing_user(self, world: World, db: Conn) -> None:
        world.telegram.admin_log[CHANNEL] = [
            member_event(1, at(10), "join", 42),  # 42 is not in the answer's users
            member_event(2, at(11), "join", 43),
        ]
        world.telegram.add_users(user(43, "Bob", username="bob"))

        report = await world.collect(at(30))

        assert report.events_merged == 2
        assert users(
            db, "first_name, user_name, premium, scam, verified, bot, joined_at, left_at"
        ) == [
            (42, None, None, None, None, None, None, at(10), None),
            (43, "Bob", "bob", False, False, False, False, at(11), None),
        ]
        assert db.execute("SELECT admin_log_cursor FROM config__tg_channel").fetchall() == [(2,)]


class TestJoinLinks:
    """(7) A join request without a link (through the public username) is not by link; a
    join through a link stores the link and its title."""

    async def test_links(self, world: World, db: Conn) -> None:
        spring = invite_link("https://t.me/+SpringAbC", "Spring ads")
        ask = invite_link("https://t.me/+AskXyZ")
        world.telegram.admin_log[CHANNEL] = [
            member_event(1, at(10), "join_by_request", 42, invite=PUBLIC_REQUEST),
            member_event(2, at(11), "join_by_invite", 43, invite=spring),
            member_event(3, at(12), "join_by_request", 44, invite=ask),
        ]
        world.telegram.add_users(user(42, "Ann"), user(43, "Bob"), user(44, "Cy"))

        await world.collect(at(30))

        assert users(db, "is_joined_by_link, invite_link, invite_link_title") == [
            (42, False, None, None),
            (43, True, "https://t.me/+SpringAbC", "Spring ads"),
            (44, True, "https://t.me/+AskXyZ", None),
        ]


class TestBot:
    """(8) A bot an admin adds is stored with bot true."""

    async def test_bot(self, world: World, db: Conn) -> None:
        world.telegram.admin_log[CHANNEL] = [
            member_event(1, at(10), "join", 42),
            member_event(2, at(11), "invite", 50, admin_id=ADMIN),
        ]
        world.telegram.add_users(
            user(42, "Ann"), user(50, "Helper", username="helper_bot", bot=True)
        )

        await world.collect(at(30))

        assert users(db, "user_name, bot, is_joined_by_link, joined_at") == [
            (42, None, False, False, at(10)),
            (50, "helper_bot", True, False, at(11)),
        ]


class TestFirstSeenLate:
    """(9) A post first seen after both horizons: comment horizons exact from the comments'
    dates; views and reactions at the horizons were never observed (NULL)."""

    async def test_history_on_first_run(self, world: World, db: Conn) -> None:
        world.publish(
            post(
                CHANNEL,
                1,
                at(),
                views=500,
                reactions=reactions({"👍": 7}),
                replies=thread(3, DISCUSSION),
            )
        )
        world.telegram.threads[(CHANNEL, 1)] = [
            comment(DISCUSSION, 501, at(30), types.PeerUser(42)),
            comment(DISCUSSION, 502, at(hours=2), types.PeerChannel(777)),
            comment(DISCUSSION, 503, at(hours=25), types.PeerUser(43)),
        ]

        await world.collect(at(hours=30))

        assert posts(db, f"views, total_reactions_count, {HORIZONS}") == [
            (1, 500, 7, None, None, None, None, 3, 1, 2, 2, 1)
        ]


class TestSubscribers:
    """The subscriber count is read at most once an hour into stat_channel_snapshot."""

    async def test_hourly(self, world: World, db: Conn) -> None:
        for now, count in ((at(), 1000), (at(30), 1010), (at(hours=1), 1020)):
            world.telegram.subscribers[CHANNEL] = count
            await world.collect(now)

        assert db.execute(
            "SELECT tg_channel_id, taken_at, subscribers FROM stat_channel_snapshot"
            " ORDER BY taken_at"
        ).fetchall() == [(CHANNEL, at(), 1000), (CHANNEL, at(hours=1), 1020)]
        assert world.telegram.count("GetFullChannelRequest") == 2

    async def test_unknown_count_fails_alone(self, world: World, db: Conn) -> None:
        """Telegram leaving the count out stores no reading and keeps the rest."""
        world.telegram.subscribers[CHANNEL] = None
        world.publish(post(CHANNEL, 1, at(), views=10))

        report = await world.collect(at(5))

        assert report.subscribers_error is not None
        assert "SubscriberCountUnknownError" in report.subscribers_error
        assert db.execute("SELECT count(*) FROM stat_channel_snapshot").fetchall() == [(0,)]
        assert posts(db, "views") == [(1, 10)]
