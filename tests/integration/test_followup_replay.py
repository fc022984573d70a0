"""Follow-up runs as served (``measure_followups``: the due posts by id and their new
comments) against the replay's full cycles at the same instants, into the real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import psycopg
import pytest

from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import ReplayGateway, Scenario, SimClock
from tgstat.app.replay import ReplaySummary, replay
from tgstat.services.followup import measure_followups

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
Conn = psycopg.Connection[tuple[object, ...]]

TABLES = {
    # every column analysts read, horizon values and deletions included
    "stat_post": (
        "tg_post_id, views, views_1h, views_24h, total_reactions_count, reactions_1h,"
        " reactions_24h, comments_messages_count, comments_messages_count_1h,"
        " comments_messages_count_24h, comments_users_count, comments_channels_count,"
        " forwards, deleted_at, grouped_id, thread_unreadable_at IS NULL"
    ),
    "stat_reaction": "tg_post_id, reaction_emoticon_code, reaction_count",
    "stat_comment": "tg_post_id, tg_comment_id, date_of_comment, author_kind, author_id",
    "stat_followup": "tg_post_id, horizon_s, due_at, measured_at, late_by_s",
    "stat_channel_snapshot": "taken_at, subscribers",
    "stat_user": "tg_user_id, joined_at, left_at, is_joined_by_link, user_name",
}


def tables(db: Conn) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: db.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2").fetchall()
        for t, cols in TABLES.items()
    }


def forget(db: Conn) -> None:
    db.execute(
        "TRUNCATE stat_post, stat_reaction, stat_user, stat_comment, stat_post_snapshot,"
        " stat_followup, stat_channel_snapshot"
    )
    db.execute("UPDATE config__tg_channel SET admin_log_cursor = 0, refresh_cursor = NULL")


class TestNarrowFollowUpRuns:
    """Reading only what the horizons need gives the tables of docs/scenario-format.md for
    fewer requests: no history, admin log or subscriber read off the ticks."""

    @pytest.mark.parametrize(
        "name", ["worked-example.json", "real-shapes.json", "metrics-lab.json"]
    )
    async def test_same_tables_fewer_requests(
        self, repo: PostgresStatRepository, db: Conn, name: str
    ) -> None:
        scenario = Scenario.load(SCENARIOS / name)
        full = await replay(scenario, repo)
        expected = tables(db)
        forget(db)

        narrow = await replay(scenario, repo, narrow_followups=True)

        assert tables(db) == expected
        assert narrow.runs == full.runs
        followup_runs = full.runs - len(scenario.ticks())
        assert followup_runs > 0
        saved = full.requests_total - narrow.requests_total
        # every follow-up run off the ticks skipped at least its history and admin-log reads
        assert saved >= 2 * followup_runs, (full.requests, narrow.requests)
        assert _off_tick_kinds(full, narrow) <= {"posts", "admin_log", "channel", "counters"}

    async def test_a_followup_run_reads_counters_and_comments_only(
        self, repo: PostgresStatRepository, db: Conn
    ) -> None:
        # worked-example.json up to the 09:00 tick; post 1's 1 h follow-up is due at 09:02,
        # and comment 12 (09:02) came since: one counters request and one thread read
        scenario = Scenario.load(SCENARIOS / "worked-example.json")
        await replay(attrs.evolve(scenario, end=datetime(2026, 11, 1, 9, tzinfo=UTC)), repo)
        instant = datetime(2026, 11, 1, 9, 2, tzinfo=UTC)
        gateway = ReplayGateway(scenario, SimClock(instant))

        report = await measure_followups(
            scenario.channel.id, repository=repo, gateway=gateway, now=instant
        )

        assert report.requests == {"counters": 1, "comments": 1}
        assert report.followups_measured == 1
        assert db.execute(
            "SELECT views_1h, reactions_1h, comments_messages_count_1h FROM stat_post"
            " WHERE tg_post_id = 1"
        ).fetchone() == (300, 6, 2)
        # a second run of the same minute finds nothing left to do and asks nothing
        again = await measure_followups(
            scenario.channel.id, repository=repo, gateway=gateway, now=instant
        )
        assert again.requests == {}


def _off_tick_kinds(full: ReplaySummary, narrow: ReplaySummary) -> set[str]:
    return {k for k in full.requests if full.requests[k] != narrow.requests.get(k, 0)}
