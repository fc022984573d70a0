"""``tgstat replay`` into the real PostgreSQL: the tables SCENARIO.md prescribes.

Expected values are written by hand from the scenarios (tests/scenarios/), not computed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import Scenario
from tgstat.app.replay import replay
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
        ("stat_user", "tg_user_id, id"),
        ("stat_comment", "tg_post_id, tg_comment_id"),
        ("stat_post_snapshot", "tg_post_id, taken_at"),
        ("config__tg_channel", "id"),
    ):
        cols = [
            str(r[0])
            for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                " AND column_name NOT IN ('timestamp', 'id', 'created_at', 'updated_at')"
                " ORDER BY ordinal_position",
                (table,),
            )
        ]
        out[table] = rows(db, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")
    out["stat_followup"] = rows(
        db, "SELECT tg_post_id, horizon_s, due_at FROM stat_followup ORDER BY 1, 2"
    )
    return out


async def play(repo: PostgresStatRepository, name: str):  # type: ignore[no-untyped-def]
    return await replay(Scenario.load(SCENARIOS / name), repo)


class TestWorkedExample:
    """SCENARIO.md's worked example, table by table."""

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

    async def test_rerun_changes_nothing_but_timestamps(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        await play(repo, "worked-example.json")
        first = everything_but_timestamps(db)
        again = await play(repo, "worked-example.json")
        assert everything_but_timestamps(db) == first
        assert again.events_merged == 0


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
        assert rows(db, "SELECT left_at FROM stat_user WHERE tg_user_id = 42 ORDER BY id") == [
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
            " last_name, premium, scam FROM stat_user ORDER BY tg_user_id, id",
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
    assert set(summary["requests"]) <= {"posts", "counters", "comments", "admin_log"}
