"""``tgstat replay`` into the real PostgreSQL: the tables docs/scenario-format.md prescribes.

Expected values are written by hand from the scenarios (tests/scenarios/), not computed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import Scenario, ScenarioError, discussion_group_id
from tgstat.app.replay import replay
from tgstat.domain.ids import UserId
from tgstat.domain.model import AuthorKind, InviteLink, MemberAction, UserProfile
from tgstat.ports.gateway import SessionBannedError

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
Conn = psycopg.Connection[tuple[object, ...]]

POST_COLUMNS = (
    "tg_post_id, views, views_1h, views_24h, total_reactions_count, reactions_1h,"
    " reactions_24h, comments_messages_count, comments_messages_count_1h,"
    " comments_messages_count_24h, comments_users_count, comments_channels_count, forwards"
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(db: Conn, query: str) -> list[tuple[object, ...]]:
    return db.execute(query).fetchall()


def everything_but_timestamps(db: Conn) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, without the ``timestamp`` (collection time) columns and keys."""
    out = {}
    for table, order in (
        ("stat_post", "tg_post_id"),
        ("stat_reaction", "tg_post_id, reaction_emoticon_code"),
        ("stat_user", "tg_user_id, pk"),
        ("stat_comment", "tg_post_id, tg_comment_id"),
        ("stat_post_snapshot", "tg_post_id, taken_at"),
        ("stat_channel_snapshot", "taken_at"),
        ("config__tg_channel", "pk"),
    ):
        cols = [
            str(r[0])
            for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                " AND column_name NOT IN ('timestamp', 'pk', 'created_at', 'updated_at')"
                " ORDER BY ordinal_position",
                (table,),
            )
        ]
        out[table] = rows(db, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")
    out["stat_followup"] = rows(
        db,
        "SELECT tg_post_id, horizon_s, due_at, grouped_id, measured_at, late_by_s"
        " FROM stat_followup ORDER BY 1, 2",
    )
    return out


async def play(repo: PostgresStatRepository, name: str):  # type: ignore[no-untyped-def]
    return await replay(Scenario.load(SCENARIOS / name), repo)


class TestWorkedExample:
    """docs/scenario-format.md's worked example, table by table."""

    async def test_posts(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, "worked-example.json")
        post1, post2 = rows(db, f"SELECT {POST_COLUMNS} FROM stat_post ORDER BY tg_post_id")
        assert post1 == (1, 950, 300, 900, 12, 6, 12, 4, 2, 4, 2, 1, 2)
        # post 2: 1 h instant is `end` itself; 24 h never came; no discussion group
        assert post2[:4] == (2, 40, 40, None)
        # reactions now / 1 h: "0 or NULL"; 24 h: NULL
        assert post2[4:6] in ((0, 0), (None, None), (0, None))
        assert post2[6] is None
        # comments now / 1 h: "0 or NULL"; 24 h: NULL; authors and forwards: "0 or NULL"
        assert {post2[7], post2[8]} <= {0, None}
        assert post2[9] is None
        assert set(post2[10:]) <= {0, None}
        assert rows(db, "SELECT tg_post_id, link, media, message FROM stat_post ORDER BY 1") == [
            (1, "https://t.me/worked_example/1", "photo", "first"),
            (2, "https://t.me/worked_example/2", None, "second"),
        ]

    async def test_reactions(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, "worked-example.json")
        assert rows(
            db,
            "SELECT tg_post_id, reaction_kind, reaction_emoticon, reaction_emoticon_code,"
            " reaction_count FROM stat_reaction ORDER BY reaction_count",
        ) == [
            (1, "custom_emoji", None, "5368324170671202286", 1),
            (1, "paid", "⭐", "paid", 3),
            (1, "emoji", "👍", "U+1F44D", 8),
        ]

    async def test_users(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, "worked-example.json")
        assert rows(
            db,
            "SELECT tg_user_id, joined_at, left_at, is_joined_by_link, user_name, premium"
            " FROM stat_user ORDER BY tg_user_id, joined_at",
        ) == [
            (7, utc("2026-10-30 10:00"), utc("2026-11-01 09:00"), False, None, False),
            (42, utc("2026-11-01 07:00"), utc("2026-11-01 15:00"), True, "ann", True),
            (42, utc("2026-11-01 18:00"), None, False, "ann_2", False),
        ]
        assert rows(db, "SELECT admin_log_cursor FROM config__tg_channel") == [(105,)]

    async def test_comments_are_stored_without_text(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        await play(repo, "worked-example.json")
        assert rows(
            db,
            "SELECT tg_comment_id, date_of_comment, author_kind, author_id FROM stat_comment"
            " ORDER BY 1",
        ) == [
            (11, utc("2026-11-01 08:05"), "user", 42),
            (12, utc("2026-11-01 09:02"), "channel", 777),
            (13, utc("2026-11-01 09:02:01"), "user", 42),
            (14, utc("2026-11-01 20:00"), "user", 43),
        ]

    async def test_followups_ran_at_the_horizon_instants(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        summary = await play(repo, "worked-example.json")
        # 36 h of 5-minute ticks (433) + follow-ups at 09:02 and Nov 2 08:02; post 2's 1 h
        # follow-up falls on the last tick (one run), its 24 h one after `end` (no run)
        assert summary.runs == 433 + 2
        assert rows(
            db,
            "SELECT taken_at, views FROM stat_post_snapshot WHERE tg_post_id = 1"
            " AND taken_at IN ('2026-11-01 09:02Z', '2026-11-02 08:02Z')",
        ) == [
            (utc("2026-11-01 09:02"), 300),
            (utc("2026-11-02 08:02"), 900),
        ]

    async def test_subscribers_without_a_timeline_read_zero(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        # no `channel.subscribers`: the gateway reports 0 (docs/scenario-format.md), read
        # on the hour
        # from Nov 1 00:00 to Nov 2 12:00
        await play(repo, "worked-example.json")
        assert rows(
            db,
            "SELECT count(*), min(taken_at), max(taken_at), max(subscribers)"
            " FROM stat_channel_snapshot",
        ) == [(37, utc("2026-11-01 00:00"), utc("2026-11-02 12:00"), 0)]

    async def test_rerun_changes_nothing_but_timestamps(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        await play(repo, "worked-example.json")
        first = everything_but_timestamps(db)
        again = await play(repo, "worked-example.json")
        assert everything_but_timestamps(db) == first
        assert again.events_merged == 0


class TestResume:
    """A replay stopped part-way and run again gives the tables of one uninterrupted replay:
    follow-ups planned and never measured run again (docs/scenario-format.md)."""

    async def test_a_followup_lost_with_the_first_replay_still_measures_its_instant(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        raw = {
            "channel": {"id": 1777000020, "title": "Resume", "username": None},
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-01T00:10:00Z",
            "interval_s": 300,
            "posts": [
                {
                    "id": 1,
                    "date": "2026-11-01T00:07:00Z",
                    "text": "x",
                    "views": [["2026-11-01T00:07:00Z", 100], ["2026-11-01T01:06:00Z", 500]],
                }
            ],
        }
        await replay(Scenario.parse(raw), repo)  # stops at 00:10: the 01:07 run is lost
        resumed = await replay(Scenario.parse({**raw, "end": "2026-11-01T02:00:00Z"}), repo)
        # 01:07 is run again (views 500 since 01:06), between the ticks at 01:05 and 01:10
        assert resumed.runs == 25 + 1
        assert rows(db, "SELECT views_1h FROM stat_post") == [(500,)]
        assert rows(
            db, "SELECT horizon_s, measured_at, late_by_s FROM stat_followup ORDER BY 1"
        ) == [
            (3600, utc("2026-11-01T01:07:00"), 0),
            (86400, None, None),
        ]

    async def test_interrupted_then_resumed_equals_uninterrupted(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        full = Scenario.load(SCENARIOS / "real-shapes.json")
        await replay(full, repo)
        uninterrupted = everything_but_timestamps(db)
        db.execute(
            "TRUNCATE stat_post, stat_reaction, stat_user, stat_comment, stat_post_snapshot,"
            " stat_followup, stat_channel_snapshot"
        )
        db.execute("UPDATE config__tg_channel SET admin_log_cursor = 0, refresh_cursor = NULL")
        # killed at 12:20 on the first day: planned and never run are the album's 1 h
        # (12:50) and 24 h follow-ups and the 24 h ones of posts 8 and 10 (post 30 comes
        # at 14:00, after the kill)
        cut = attrs.evolve(full, end=utc("2026-11-10T12:20:00"))
        await replay(cut, repo)
        assert rows(
            db,
            "SELECT tg_post_id, horizon_s FROM stat_followup WHERE measured_at IS NULL"
            " ORDER BY 1, 2",
        ) == [(8, 86400), (10, 86400), (20, 3600), (20, 86400)]
        await replay(full, repo)
        assert everything_but_timestamps(db) == uninterrupted


class TestFaults:
    """Transient faults are retried at the same simulated instant: the same tables."""

    async def test_faults_leave_the_same_tables(
        self, repo: PostgresStatRepository, db: Conn, db_url: str, server_url: str
    ) -> None:
        summary = await play(repo, "worked-example-faults.json")
        assert summary.retries == 5
        assert summary.failed_runs == 0
        with_faults = everything_but_timestamps(db)
        db.execute(
            "TRUNCATE stat_post, stat_reaction, stat_user, stat_comment,"
            " stat_post_snapshot, stat_followup"
        )
        db.execute("UPDATE config__tg_channel SET admin_log_cursor = 0, refresh_cursor = NULL")
        await play(repo, "worked-example.json")
        assert everything_but_timestamps(db) == with_faults

    async def test_a_long_flood_wait_fails_the_run_and_the_next_catches_up(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        scenario = json.loads((SCENARIOS / "worked-example.json").read_text())
        scenario["faults"] = [
            {
                "at": "2026-11-01T15:00:00Z",
                "call": "admin_log",
                "kind": "flood_wait",
                "seconds": 3600,
            },
        ]
        summary = await replay(Scenario.parse(scenario), repo)
        assert summary.failed_runs == 1
        # Ann's leave at 15:00 was picked up by the run after the failed one
        assert rows(db, "SELECT left_at FROM stat_user WHERE tg_user_id = 42 ORDER BY pk") == [
            (utc("2026-11-01 15:00"),),
            (None,),
        ]


class TestBanned:
    """A banned session is marked and stops collection with a clear error."""

    async def test_banned_marks_the_session(self, repo: PostgresStatRepository, db: Conn) -> None:
        with pytest.raises(SessionBannedError, match="banned"):
            await play(repo, "worked-example-banned.json")
        assert rows(
            db,
            "SELECT status, status_reason IS NOT NULL, status_changed_at"
            " FROM config__tg_bot_session_pool",
        ) == [
            ("banned", True, utc("2026-11-01 12:00")),
        ]
        # what was collected before the ban is kept
        assert rows(db, "SELECT tg_post_id, views_1h FROM stat_post") == [(1, 300)]

    def test_cli_exit_and_message(self, db_url: str) -> None:
        done = run_tgstat(
            "replay",
            str(SCENARIOS / "worked-example-banned.json"),
            "--json",
            env=clean_env(TGSTAT_DATABASE_URL=db_url),
        )
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: ")
        assert "banned" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


class TestMembershipRules:
    """Leave without a join, admin additions, join requests, re-joins, the 48 h log."""

    async def test_episodes(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, "membership-rules.json")
        assert rows(
            db,
            "SELECT tg_user_id, joined_at, left_at, is_joined_by_link, user_name,"
            " last_name, premium, scam FROM stat_user ORDER BY tg_user_id, pk",
        ) == [
            (200, None, utc("2026-11-04 08:00"), None, "left", None, False, False),
            (
                300,
                utc("2026-11-05 00:30"),
                utc("2026-11-05 03:00"),
                False,
                "added",
                None,
                False,
                False,
            ),
            (
                300,
                utc("2026-11-05 03:05"),
                utc("2026-11-05 03:05"),
                True,
                "added",
                None,
                False,
                True,
            ),
            (400, utc("2026-11-05 01:15"), None, True, "asked", "Again", False, False),
        ]
        assert rows(db, "SELECT admin_log_cursor FROM config__tg_channel") == [(8,)]

    async def test_a_request_link_not_scripted_is_unknown(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        """A join_by_request written without ``invite`` (the format before invite objects)
        came through a link, which one is unknown: by link, the link NULL (never "")."""
        await play(repo, "membership-rules.json")
        assert rows(
            db,
            "SELECT is_joined_by_link, invite_link, invite_link_title FROM stat_user"
            " WHERE tg_user_id = 400",
        ) == [(True, None, None)]

    async def test_private_link_and_no_discussion(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        await play(repo, "membership-rules.json")
        assert rows(
            db,
            "SELECT link, media, message, views, views_1h, views_24h,"
            " comments_messages_count FROM stat_post",
        ) == [("https://t.me/c/1888000002/7", "video", None, 60, 60, None, None)]


def test_cli_json_summary(db_url: str) -> None:
    done = run_tgstat(
        "replay",
        str(SCENARIOS / "worked-example.json"),
        "--json",
        env=clean_env(TGSTAT_DATABASE_URL=db_url),
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["runs"] == 435
    assert summary["requests_total"] == sum(summary["requests"].values())
    assert set(summary["requests"]) <= {"posts", "counters", "comments", "admin_log", "channel"}


REAL_SHAPES = "real-shapes.json"
ALBUM = 13571113171923293
DISCUSSION_GROUP = 2_001_777_000_010
"""The discussion group of channel 1777000010: 2 * 10**12 + the channel id (replay's rule)."""


def only_posts(*ids: int) -> Scenario:
    """real-shapes.json with only the given posts (the admin log and timeline kept)."""
    raw = json.loads((SCENARIOS / REAL_SHAPES).read_text())
    raw["posts"] = [p for p in raw["posts"] if p["id"] in ids]
    return Scenario.parse(raw)


# real-shapes.json ticks every 15 min from Nov 10 00:00 to Nov 11 12:00: 145 runs. The
# follow-ups off the ticks add 4: post 10's at 11:05 and Nov 11 10:05, the album's at 12:50
# and Nov 11 11:50. Post 8's (09:00, Nov 11 08:00) and post 30's 1 h (15:00) fall on ticks;
# post 30's 24 h one (Nov 11 14:00) is after `end`. No other run happens, so "the first run
# after T" below is the next quarter hour unless one of those four instants comes first.
REAL_SHAPES_POSTS = [
    # post 5, published Nov 8 09:00, first seen at `start` (after both horizons): views and
    # reactions at 1 h / 24 h were never observed (NULL); comments at 1 h (10:00) are 50
    # (09:30) and 51 (10:00, inclusive) = 2, at 24 h (Nov 9 09:00) also 52 = 3 (53 came a
    # second later); authors users 60, 61 = 2, channel 777 = 1; views 400, 👍 7, forwards 3.
    (5, 400, None, None, 7, None, None, 4, 2, 3, 2, 1, 3),
    # post 8, 08:00: comments by a user (60, 08:10), nobody (08:20), a channel (777, 08:30),
    # an anonymous admin (09:30): all four count, three at 1 h (09:00), four at 24 h; only
    # 60 is a distinct user and only 777 a distinct channel (the group is neither). Views 30
    # at 09:00, 45 from Nov 11 07:00; no reactions: 0 measured at both instants.
    (8, 45, 30, 45, 0, 0, 0, 4, 3, 4, 1, 1, 0),
    # post 10, 10:05, deleted at 10:35: seen at 10:15 (views 10) and 10:30 (views 50, ❤ 2,
    # comment 100 read); 80 views (10:32) and ❤ 5 (10:33) came after the last read and were
    # never observed. Gone at the 10:45 run; its 1 h (11:05) and 24 h instants came after
    # the deletion: NULL. Comment 100 by user 60: 1 user, 0 channels.
    (10, 50, None, None, 2, None, None, 1, None, None, 1, 0, 0),
    # the album (20, 21, 22), 11:50, first seen at 12:00, one follow-up run at 12:50 and one
    # at Nov 11 11:50 measure all three. 20 carries the caption, reactions and thread:
    # views 450 at 12:50 (470 a minute later), 900 at Nov 11 11:50, 910 at the end;
    # reactions 🔥 3 + 👍 1 = 4 at 12:50, 🔥 9 + 👍 1 = 10 later; comments 200 (12:30) and
    # 201 (12:50) at 1 h, 400 (Nov 11 02:00) too at 24 h; users 60, 62; forwards 2.
    (20, 910, 450, 900, 10, 4, 10, 3, 2, 3, 2, 0, 2),
    # 21 and 22: their own views; no reactions (0); no thread (no counter: NULL).
    (21, 850, 430, 850, 0, 0, 0, None, None, None, None, None, 0),
    (22, 800, 400, 800, 0, 0, 0, None, None, None, None, None, 0),
    # post 30, 14:00, thread unreadable: the counter says 3 (300, 301, 302 by 16:10) but no
    # comment was ever read, so comments at 1 h / 24 h and distinct authors are unknown
    # (NULL). Views 20 at 15:00, 90 at the end; its 24 h instant is after `end`.
    (30, 90, 20, None, 0, 0, None, 3, None, None, None, None, 0),
]


def nov10(hours: int, minutes: int = 0) -> datetime:
    """Nov 10 00:00 (real-shapes.json's `start`) plus the given time."""
    return utc("2026-11-10 00:00") + timedelta(hours=hours, minutes=minutes)


REAL_SHAPES_SUBSCRIBERS = [
    # Read once an hour, at the first run an hour or more after the last reading: every
    # hour on the hour (no off-tick run comes an hour or more after a reading), valued as
    # the timeline stands at that instant.
    *[(nov10(h), 1200) for h in range(3)],  # 00:00-02:00
    *[(nov10(h), 1203) for h in range(3, 9)],  # 03:00-08:00 (1203 since 02:30)
    (nov10(9), 1210),  # the point at 09:00 itself counts
    *[(nov10(h), 1208) for h in range(10, 20)],  # 10:00-19:00 (1208 since 09:10)
    *[(nov10(h), 1215) for h in range(20, 31)],  # 20:00-Nov 11 06:00 (1215 since 20:00)
    *[(nov10(h), 1212) for h in range(31, 37)],  # Nov 11 07:00-12:00 (since 06:59:59)
]


class TestRealShapes:
    """real-shapes.json: every field of docs/scenario-format.md's "Real Telegram shapes",
    table by table."""

    async def test_posts(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, REAL_SHAPES)
        assert rows(db, f"SELECT {POST_COLUMNS} FROM stat_post ORDER BY 1") == REAL_SHAPES_POSTS

    async def test_post_fields(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, REAL_SHAPES)
        assert rows(
            db,
            "SELECT tg_post_id, grouped_id, deleted_at, message, media, link FROM stat_post"
            " ORDER BY 1",
        ) == [
            (5, None, None, "Old news", None, "https://t.me/real_shapes/5"),
            (8, None, None, "Who wrote this", None, "https://t.me/real_shapes/8"),
            # deleted at 10:35; the first run after that is the 10:45 tick
            (10, None, utc("2026-11-10 10:45"), "Oops", None, "https://t.me/real_shapes/10"),
            (20, ALBUM, None, "Album caption", "photo", "https://t.me/real_shapes/20"),
            (21, ALBUM, None, None, "photo", "https://t.me/real_shapes/21"),
            (22, ALBUM, None, None, "photo", "https://t.me/real_shapes/22"),
            (30, None, None, "Broken thread", None, "https://t.me/real_shapes/30"),
        ]

    async def test_reactions(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, REAL_SHAPES)
        assert rows(
            db,
            "SELECT tg_post_id, reaction_emoticon, reaction_count FROM stat_reaction ORDER BY 1, 3",
        ) == [
            (5, "👍", 7),
            (10, "❤", 2),  # as last read at 10:30; the 5 of 10:33 was never observed
            (20, "👍", 1),
            (20, "🔥", 9),
        ]

    async def test_comments(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, REAL_SHAPES)
        assert rows(
            db,
            "SELECT tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id"
            " FROM stat_comment ORDER BY 1, 2",
        ) == [
            (5, 50, utc("2026-11-08 09:30"), "user", 60),
            (5, 51, utc("2026-11-08 10:00"), "user", 61),
            (5, 52, utc("2026-11-08 20:00"), "channel", 777),
            (5, 53, utc("2026-11-09 09:00:01"), "user", 60),
            (8, 80, utc("2026-11-10 08:10"), "user", 60),
            (8, 81, utc("2026-11-10 08:20"), "none", None),
            (8, 82, utc("2026-11-10 08:30"), "channel", 777),
            (8, 83, utc("2026-11-10 09:30"), "anonymous", DISCUSSION_GROUP),
            (10, 100, utc("2026-11-10 10:12"), "user", 60),
            (20, 200, utc("2026-11-10 12:30"), "user", 60),
            (20, 201, utc("2026-11-10 12:50"), "user", 62),
            (20, 400, utc("2026-11-11 02:00"), "user", 60),
            # post 30's thread never read: none of its comments
        ]

    async def test_one_followup_per_album_and_instant(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        summary = await play(repo, REAL_SHAPES)
        assert rows(
            db, "SELECT tg_post_id, horizon_s, due_at, grouped_id FROM stat_followup ORDER BY 1, 2"
        ) == [
            (8, 3600, utc("2026-11-10 09:00"), None),
            (8, 86400, utc("2026-11-11 08:00"), None),
            (10, 3600, utc("2026-11-10 11:05"), None),
            (10, 86400, utc("2026-11-11 10:05"), None),
            # the album: once, under its first message, not once per message
            (20, 3600, utc("2026-11-10 12:50"), ALBUM),
            (20, 86400, utc("2026-11-11 11:50"), ALBUM),
            (30, 3600, utc("2026-11-10 15:00"), None),
            (30, 86400, utc("2026-11-11 14:00"), None),
        ]
        # post 5 was first seen after both its instants: no follow-up
        assert summary.followups_scheduled == 8
        assert summary.runs == 145 + 4

    async def test_users(self, repo: PostgresStatRepository, db: Conn) -> None:
        await play(repo, REAL_SHAPES)
        assert rows(
            db,
            "SELECT tg_user_id, joined_at, left_at, is_joined_by_link, is_removed_by_admin,"
            " invite_link, invite_link_title, bot, first_name, user_name"
            " FROM stat_user ORDER BY tg_user_id, pk",
        ) == [
            # added by an admin (not by link), a bot; still in
            (
                5001,
                utc("2026-11-09 20:00"),
                None,
                False,
                None,
                None,
                None,
                True,
                "Helper",
                "helper_bot",
            ),
            # joined through the titled link, left on her own later: link kept, not removed
            (
                5002,
                utc("2026-11-10 01:00"),
                utc("2026-11-10 09:00"),
                True,
                False,
                "https://t.me/+SpringAds2026",
                "Spring ads",
                False,
                "Tia",
                "tia",
            ),
            # through a chat folder: still by link; the link has no title
            (
                5003,
                utc("2026-11-10 02:00"),
                None,
                True,
                None,
                "https://t.me/+FolderInvite9",
                None,
                False,
                "Folder",
                None,
            ),
            # a join request through the public username (invite null): not by link
            (5004, utc("2026-11-10 03:00"), None, False, None, None, None, False, "Pub", None),
            # an approved request through a titled link: by link
            (
                5005,
                utc("2026-11-10 04:00"),
                None,
                True,
                None,
                "https://t.me/+PartnersReq",
                "Partners",
                False,
                "Partner",
                None,
            ),
            # joined, then removed by an admin: the episode closes, removed
            (
                5006,
                utc("2026-11-10 05:00"),
                utc("2026-11-10 07:00"),
                False,
                True,
                None,
                None,
                False,
                "Kim",
                "kim",
            ),
            # Telegram left the user object out: the id alone, nothing else known
            (5007, utc("2026-11-10 10:00"), None, False, None, None, None, None, None, None),
            # the join after it is stored all the same
            (5008, utc("2026-11-10 10:00"), None, False, None, None, None, False, "Next", "next"),
            # removed with no join observed: a closed episode without joined_at
            (5009, None, utc("2026-11-10 13:00"), None, True, None, None, False, "Spam", None),
        ]
        assert rows(db, "SELECT admin_log_cursor FROM config__tg_channel") == [(111,)]

    async def test_subscribers(self, repo: PostgresStatRepository, db: Conn) -> None:
        summary = await play(repo, REAL_SHAPES)
        assert (
            rows(
                db,
                "SELECT taken_at, subscribers FROM stat_channel_snapshot"
                " WHERE tg_channel_id = 1777000010 ORDER BY 1",
            )
            == REAL_SHAPES_SUBSCRIBERS
        )
        assert summary.requests["channel"] == 37

    async def test_deleted_post_is_not_asked_for_again(self, repo: PostgresStatRepository) -> None:
        summary = await replay(only_posts(10), repo)
        # by id only at 10:30 (refresh: 50 views) and 10:45 (found gone); 10:15 read it as a
        # new post (history), and no run after 10:45 asks for it
        assert summary.requests["counters"] == 2
        assert summary.requests["comments"] == 1  # at 10:15 (comment 100)

    async def test_unreadable_thread_is_retried_once_an_hour(
        self, repo: PostgresStatRepository
    ) -> None:
        summary = await replay(only_posts(30), repo)
        # first tried at 14:30 (comment 300 of 14:20 makes the count change), then at the
        # first run an hour or more after each failure: 15:30, 16:30, ... Nov 11 11:30 (the
        # runs in between are 15 min apart): 22 requests, each answered MSG_ID_INVALID
        assert summary.requests["comments"] == 22

    async def test_a_failed_subscriber_read_loses_nothing_else(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        raw = json.loads((SCENARIOS / REAL_SHAPES).read_text())
        raw["faults"] = [
            {"at": "2026-11-10T05:00:00Z", "call": "channel", "kind": "flood_wait", "seconds": 3600}
        ]
        await replay(Scenario.parse(raw), repo)
        assert rows(db, f"SELECT {POST_COLUMNS} FROM stat_post ORDER BY 1") == REAL_SHAPES_POSTS
        assert rows(db, "SELECT max(tg_user_id) FROM stat_user") == [(5009,)]
        # the 05:00 read failed (a FloodWait longer than the retries wait); the 05:15 run,
        # 1 h 15 min after the 04:00 reading, read instead, and every later reading comes an
        # hour after that one: at a quarter past
        assert rows(db, "SELECT taken_at, subscribers FROM stat_channel_snapshot ORDER BY 1") == [
            *[(nov10(h), 1200) for h in range(3)],
            *[(nov10(h), 1203) for h in range(3, 5)],
            *[(nov10(h, 15), 1203) for h in range(5, 9)],
            *[(nov10(h, 15), 1208) for h in range(9, 20)],  # 09:15: 1208 (since 09:10)
            *[(nov10(h, 15), 1215) for h in range(20, 31)],
            *[(nov10(h, 15), 1212) for h in range(31, 36)],  # Nov 11 12:00 is 45 min after
        ]

    async def test_rerun_changes_nothing_but_timestamps(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        await play(repo, REAL_SHAPES)
        first = everything_but_timestamps(db)
        again = await play(repo, REAL_SHAPES)
        assert everything_but_timestamps(db) == first
        assert again.events_merged == 0


def _minimal() -> dict[str, Any]:
    return {
        "channel": {"id": 1, "title": "T"},
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-01T01:00:00Z",
        "posts": [
            {
                "id": 1,
                "date": "2026-11-01T00:00:00Z",
                "comments": [{"id": 1, "date": "2026-11-01T00:10:00Z", "user_id": 5}],
            }
        ],
        "admin_log": [
            {"id": 1, "date": "2026-11-01T00:00:00Z", "action": "join", "user": {"id": 5}}
        ],
    }


class TestScenarioValidation:
    """A bad value of a real-shape field is a ScenarioError naming its JSON path."""

    @pytest.mark.parametrize(
        ("path", "value", "message"),
        [
            (
                ("channel", "subscribers"),
                [["2026-11-01T00:00:00Z", -1]],
                "channel.subscribers[0][1]",
            ),
            (("channel", "subscribers"), [["yesterday", 5]], "channel.subscribers[0][0]"),
            (("posts", 0, "grouped_id"), "x", "posts[0].grouped_id"),
            (("posts", 0, "deleted_at"), "2026-10-31T23:59:00Z", "posts[0].deleted_at: before"),
            (
                ("posts", 0, "deleted_at"),
                "2026-11-01T01:00:00",
                "posts[0].deleted_at: time without a zone",
            ),
            (("posts", 0, "thread_unreadable"), "yes", "posts[0].thread_unreadable"),
            (("posts", 0, "discussion"), False, None),  # valid alone
            (("posts", 0, "comments", 0, "anonymous"), True, "posts[0].comments[0].anonymous"),
            (("posts", 0, "comments", 0, "channel_id"), 7, "posts[0].comments[0]: a comment has"),
            (("posts", 0, "comments", 0, "user_id"), True, "posts[0].comments[0].user_id"),
            (("admin_log", 0, "action"), "ban", "admin_log[0].action: unknown action 'ban'"),
            (("admin_log", 0, "user", "bot"), "no", "admin_log[0].user.bot"),
            (("admin_log", 0, "user_missing"), 1, "admin_log[0].user_missing"),
            (("admin_log", 0, "invite"), {"link": "https://t.me/+x"}, "admin_log[0].invite: only"),
            (
                ("faults",),
                [{"at": "2026-11-01T00:00:00Z", "call": "chan", "kind": "banned"}],
                "faults[0].call",
            ),
            # beyond what the database stores, or what a replay can take
            (("posts", 0, "id"), 2**63, "posts[0].id: expected an integer from 1 to"),
            (("admin_log", 0, "id"), 2**64, "admin_log[0].id: expected an integer from 1"),
            (("channel", "id"), 2**48, "channel.id: expected an integer from 1 to"),
            (("posts", 0, "text"), "a\u0000b", "posts[0].text: a NUL character"),
            (("posts", 0, "text"), "a\ud800b", "posts[0].text: not valid Unicode"),
            (("channel", "title"), 5, "channel.title: expected a string"),
            # (9999-01-01 - 2026-11-01) / 300 s + 1
            (("end",), "9999-01-01T00:00:00Z", "end: 838,590,913 runs"),
            # a key no reaction has, that would overflow stat_reaction's index
            (("posts", 0, "reactions"), {"x" * 100_000: [], "👍": []}, "posts[0].reactions: a key"),
            # a huge bad value is quoted in part, not in full
            (
                ("channel", "title"),
                ["t"] * 100_000,
                "channel.title: expected a string or null, got",
            ),
        ],
    )
    def test_bad_value(self, path: tuple[Any, ...], value: Any, message: str | None) -> None:
        raw = _minimal()
        *parents, key = path
        target: Any = raw
        for step in parents:
            target = target[step]
        target[key] = value
        if message is None:
            Scenario.parse(raw)
            return
        with pytest.raises(ScenarioError) as error:
            Scenario.parse(raw)
        assert str(error.value).startswith(message), str(error.value)
        assert len(str(error.value)) < 300

    def test_deep_nesting_is_one_error(self, tmp_path: Path) -> None:
        path = tmp_path / "deep.json"
        path.write_text("[" * 100_000 + "]" * 100_000)
        with pytest.raises(ScenarioError, match="nests arrays or objects too deeply"):
            Scenario.load(path)

    @pytest.mark.parametrize(
        ("invite", "message"),
        [
            (None, "admin_log[0].invite: a join by invite always has a link"),
            ({"link": ""}, "admin_log[0].invite.link"),
            ({"link": "https://t.me/+x", "title": 3}, "admin_log[0].invite.title"),
            (
                {"link": "https://t.me/+x", "via_chatlist": "yes"},
                "admin_log[0].invite.via_chatlist",
            ),
        ],
    )
    def test_bad_invite(self, invite: Any, message: str) -> None:
        raw = _minimal()
        raw["admin_log"][0].update(action="join_by_invite", invite=invite)
        with pytest.raises(ScenarioError) as error:
            Scenario.parse(raw)
        assert str(error.value).startswith(message), str(error.value)

    def test_unreadable_thread_needs_a_discussion(self) -> None:
        raw = _minimal()
        raw["posts"][0].update(discussion=False, thread_unreadable=True)
        with pytest.raises(ScenarioError, match=r"^posts\[0\]\.thread_unreadable: a post without"):
            Scenario.parse(raw)

    def test_the_discussion_group_is_written_as_anonymous(self) -> None:
        raw = _minimal()
        raw["posts"][0]["comments"][0] = {
            "id": 1,
            "date": "2026-11-01T00:10:00Z",
            "channel_id": discussion_group_id(1),
        }
        with pytest.raises(
            ScenarioError, match=r"^posts\[0\]\.comments\[0\]\.channel_id: .*anonymous"
        ):
            Scenario.parse(raw)

    def test_every_real_shape_parses(self) -> None:
        """What the gateway is built from: each field read as docs/scenario-format.md defines it."""
        sc = Scenario.load(SCENARIOS / REAL_SHAPES)
        posts = {p.id: p for p in sc.posts}
        assert sc.subscribers.at(utc("2026-11-10 09:05")) == 1210
        assert [posts[i].grouped_id for i in (20, 21, 22)] == [ALBUM] * 3
        assert posts[10].deleted_at == utc("2026-11-10 10:35")
        assert posts[30].thread_unreadable
        assert [(c.author_kind, c.author_id) for c in posts[8].comments] == [
            (AuthorKind.USER, 60),
            (AuthorKind.NONE, None),
            (AuthorKind.CHANNEL, 777),
            (AuthorKind.ANONYMOUS, DISCUSSION_GROUP),
        ]
        events = {e.id: e for e in sc.admin_log}
        assert events[101].user.bot is True
        assert events[102].invite == InviteLink("https://t.me/+SpringAds2026", "Spring ads")
        assert events[103].invite == InviteLink("https://t.me/+FolderInvite9", None, True)
        assert events[104].invite is None
        assert events[107].action is MemberAction.KICK
        assert events[109].user == UserProfile(UserId(5007))
        assert events[110].user.first_name == "Next"
