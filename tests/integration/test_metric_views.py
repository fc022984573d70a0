"""The metric layer (docs/metrics.md) over ``tests/scenarios/metrics-lab.json``.

Every expected value is derived by hand from the scenario, the way the collector samples it:
a run every hour on the hour from Nov 10 00:00 to Nov 12 00:00 (UTC), plus one follow-up run
at each publication's date + 1 h and + 24 h when that is not on the hour (the album's 11:30
and Nov 11 10:30). Every run reads every live post (the channel is small: the rotating slice
covers all of it); the subscriber count is read on every hourly run (it is an hour old by
then), so the readings are the timeline at each full hour.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.integration.conftest import TEMPLATE, drop_database, fresh_database, with_database
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import Scenario
from tgstat.app.database import open_pool
from tgstat.app.replay import replay

LAB = Path(__file__).resolve().parents[1] / "scenarios" / "metrics-lab.json"
CHANNEL = 1777000020
ALBUM = 5550001
Conn = psycopg.Connection[tuple[Any, ...]]


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant of November 2026, UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@contextlib.asynccontextmanager
async def lab_database(server_url: str, *more: Path) -> AsyncIterator[str]:
    """A migrated database of its own holding the replay of metrics-lab.json (and of the
    scenarios ``more``, other channels)."""
    name = fresh_database(server_url, TEMPLATE)
    try:
        url = with_database(server_url, name)
        async with open_pool(url, max_size=2) as pool:
            for scenario in (LAB, *more):
                await replay(Scenario.load(scenario), PostgresStatRepository(pool))
        yield url
    finally:
        drop_database(server_url, name)


@pytest.fixture(name="lab_url", scope="module")
async def _lab_url(server_url: str, template_url: str) -> AsyncIterator[str]:
    async with lab_database(server_url) as url:
        yield url


@pytest.fixture(name="lab")
def _lab(lab_url: str) -> Iterator[Conn]:
    """A connection to the replayed scenario; the session runs in UTC unless a test says."""
    with psycopg.connect(lab_url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


def select(conn: Conn, columns: str, view: str, order: str) -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT {columns} FROM {view} ORDER BY {order}").fetchall()


def columns_of(conn: Conn, view: str) -> list[str]:
    cur = conn.execute(f"SELECT * FROM {view} LIMIT 0")
    assert cur.description is not None
    return [d.name for d in cur.description]


class TestInterface:
    """The views' names and columns are the stable interface docs/metrics.md documents."""

    def test_columns(self, lab: Conn) -> None:
        assert columns_of(lab, "metric_post") == [
            "tg_channel_id", "tg_post_id", "grouped_id", "messages", "date_of_post", "message",
            "media", "link", "is_deleted", "deleted_at", "has_discussion",
            "views", "views_1h", "views_24h", "reactions", "reactions_1h", "reactions_24h",
            "comments", "comments_1h", "comments_24h", "forwards", "forwards_1h", "forwards_24h",
            "subscribers_at_publication", "err", "err_24h", "engagement_rate",
        ]  # fmt: skip
        assert columns_of(lab, "metric_channel_day") == [
            "tg_channel_id", "day", "joins", "leaves", "removals", "net", "joins_by_link",
            "premium_joins", "bot_joins", "subscribers", "posts_published", "mean_views_24h",
        ]  # fmt: skip
        assert columns_of(lab, "metric_invite_link") == [
            "tg_channel_id", "invite_link", "invite_link_title", "joins", "still_subscribed",
            "leaves", "removals", "median_days_subscribed_of_left", "first_join_at",
            "last_join_at",
        ]  # fmt: skip
        assert columns_of(lab, "metric_post_views_curve") == [
            "tg_channel_id", "tg_post_id", "taken_at", "minutes_since_post", "views",
        ]  # fmt: skip

    def test_every_column_is_documented(self, lab: Conn) -> None:
        doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
        for view in VIEWS:
            section = doc.split(f"## `{view}`", 1)[1].split("\n## ", 1)[0]
            for column in columns_of(lab, view):
                assert f"`{column}`" in section, (view, column)


VIEWS = ("metric_post", "metric_channel_day", "metric_invite_link", "metric_post_views_curve")


class TestReadOnlyRole:
    """A dashboard's role granted SELECT on the four views, and nothing else, reads them all
    (README, "For analysts")."""

    def test_views_alone_suffice(self, lab: Conn) -> None:
        role = sql.Identifier(f"tgstat_reader_{uuid.uuid4().hex[:8]}")
        lab.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        try:
            grant = sql.SQL("GRANT SELECT ON {} TO {}")
            lab.execute(grant.format(sql.SQL(", ").join(map(sql.Identifier, VIEWS)), role))
            lab.execute(sql.SQL("SET ROLE {}").format(role))
            # every column (count(*) would not evaluate them all)
            counts = [len(lab.execute(f"SELECT * FROM {v}").fetchall()) for v in VIEWS]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                lab.execute("SELECT count(*) FROM stat_user")
        finally:
            lab.execute("RESET ROLE")
            lab.execute(sql.SQL("DROP OWNED BY {}").format(role))
            lab.execute(sql.SQL("DROP ROLE {}").format(role))
        assert counts == [5, 4, 2, 10 + 27 + 3 + 20 + 5]


class TestMetricPost:
    """One row per publication: the album of posts 2-4 is one row keyed by post 2."""

    def test_publications(self, lab: Conn) -> None:
        assert select(
            lab,
            "tg_channel_id, tg_post_id, grouped_id, messages, date_of_post, message, media,"
            " link, is_deleted, deleted_at, has_discussion",
            "metric_post",
            "tg_post_id",
        ) == [
            (CHANNEL, 1, None, 1, utc(9, 8), "Before we looked", None,
             "https://t.me/metrics_lab/1", False, None, True),
            # the caption is post 2's; media of the first message that has one
            (CHANNEL, 2, ALBUM, 3, utc(10, 10, 30), "Album caption", "photo",
             "https://t.me/metrics_lab/2", False, None, True),
            # deleted at 16:20: the 17:00 run is the first to find it gone
            (CHANNEL, 5, None, 1, utc(10, 14), "Deleted soon", None,
             "https://t.me/metrics_lab/5", True, utc(10, 17), True),
            (CHANNEL, 6, None, 1, utc(11, 6), "Morning news", "webpage",
             "https://t.me/metrics_lab/6", False, None, False),
            (CHANNEL, 7, None, 1, utc(11, 20), "Evening", None,
             "https://t.me/metrics_lab/7", False, None, True),
        ]  # fmt: skip

    def test_views(self, lab: Conn) -> None:
        assert select(lab, "tg_post_id, views, views_1h, views_24h", "metric_post", "1") == [
            # first seen at Nov 10 00:00, 16 h after publication: its 1 h instant was never
            # observed (NULL); its 24 h instant (Nov 10 08:00) is a run: 420; 500 from Nov 11
            (1, 500, None, 420),
            # the album's highest: at 11:30 posts 2/3/4 had 260/250/200; at Nov 11 10:30
            # 700/690/600; at the end 760/770/650 (post 3 leads: max over messages, not post 2)
            (2, 770, 260, 700),
            # 180 at the 16:00 run; 200 (16:10) was never seen, it was deleted at 16:20;
            # its 24 h instant came after the deletion: NULL, not 0
            (5, 180, 120, None),
            # its 24 h instant (Nov 12 06:00) is after the replay's end
            (6, 900, 400, None),
            (7, 150, 90, None),
        ]

    def test_reactions_comments_forwards(self, lab: Conn) -> None:
        assert select(
            lab,
            "tg_post_id, reactions, reactions_1h, reactions_24h, comments, comments_1h,"
            " comments_24h, forwards, forwards_1h, forwards_24h",
            "metric_post",
            "1",
        ) == [
            # 👍 4 since Nov 9 09:00; at 1 h no snapshot (NULL) but comments are exact from
            # their dates: comment 10 (08:30) <= 09:00 < comment 11 (12:00); forwards 2
            (1, 4, None, 4, 2, 1, 2, 2, None, 2),
            # summed: 🔥 9 + ❤ 2 now; at 11:30 🔥 5 + ❤ 2 = 7; at Nov 11 10:30 9 + 2 = 11.
            # The thread is post 2's (3, 4 have none): comments 20, 21 (11:30 inclusive)
            # by 1 h and 24 h, 22 later. Forwards: 1 (post 2) at 11:30; 4 + 1 at 24 h.
            (2, 11, 7, 11, 3, 2, 2, 5, 1, 5),
            (5, 3, 3, None, 1, 1, None, 0, 0, None),
            # no discussion thread: no comment counter at all (NULL, not 0)
            (6, 0, 0, None, None, None, None, 3, 0, None),
            # custom 2 by 21:00, paid 5 at 22:00; a thread with no comment: 0
            (7, 7, 2, None, 0, 0, None, 0, 0, None),
        ]

    def test_subscribers_and_rates(self, lab: Conn) -> None:
        assert select(
            lab,
            "tg_post_id, subscribers_at_publication, err, err_24h, engagement_rate",
            "metric_post",
            "1",
        ) == [
            # no reading before Nov 10 00:00: ERR unknown; engagement (4 + 2 + 2) / 500
            (1, None, None, None, 8 / 500),
            # the 10:00 reading (1003: the timeline's value from 06:00)
            (2, 1003, 770 / 1003, 700 / 1003, (11 + 3 + 5) / 770),
            # the 14:00 reading counts (at or before publication): 1010 from 12:30
            (5, 1010, 180 / 1010, None, (3 + 1 + 0) / 180),
            # 1008 from Nov 10 20:00; no thread: engagement counts 0 comments
            (6, 1008, 900 / 1008, None, (0 + 0 + 3) / 900),
            (7, 1020, 150 / 1020, None, (7 + 0 + 0) / 150),
        ]


def test_forwards_at_helper(lab: Conn) -> None:
    """metric_forwards_at: the snapshot closest to the instant within 5 minutes."""
    at = "SELECT metric_forwards_at(%s, %s, %s)"
    assert lab.execute(at, (CHANNEL, 2, utc(10, 11, 30))).fetchall() == [(1,)]
    assert lab.execute(at, (CHANNEL, 2, utc(10, 11, 34))).fetchall() == [(1,)]  # 11:30's
    assert lab.execute(at, (CHANNEL, 2, utc(10, 11, 45))).fetchall() == [(None,)]  # none near


class TestMetricChannelDay:
    """Per UTC day, people only: the bot (1006) is a bot join, and its removal not a removal."""

    EXPECTED = [  # noqa: RUF012
        # Ann (premium) joined Nov 9 22:00, seen at the first run (the log keeps 48 h);
        # post 1 was published that day, views_24h 420; no reading that day
        (CHANNEL, date(2026, 11, 9), 1, 0, 0, 1, 0, 1, 0, None, 1, 420.0),
        # joins: Bob, Cy (premium), Dee (request by link), Fay by link; Eve by request
        # through the username (not by link); the bot apart. Bob left, Eve was removed.
        # Last reading 23:00: 1008. The album and post 5; only the album has a views_24h.
        (CHANNEL, date(2026, 11, 10), 5, 1, 1, 3, 4, 1, 1, 1008, 2, 700.0),
        # joins: Gus, Bob again (Partners link); leaves: Cy, Hal (whose join was never
        # seen); removals: Dee (the bot's removal is not counted). Posts 6, 7: no 24 h yet.
        (CHANNEL, date(2026, 11, 11), 2, 2, 1, -1, 1, 0, 0, 1020, 2, None),
        # only the reading of the last run (00:00): 1018 since Nov 11 23:30
        (CHANNEL, date(2026, 11, 12), 0, 0, 0, 0, 0, 0, 0, 1018, 0, None),
    ]

    def test_days(self, lab: Conn) -> None:
        assert select(lab, "*", "metric_channel_day", "day") == self.EXPECTED

    @pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles"])
    def test_days_are_utc_whatever_the_session_zone(self, lab: Conn, zone: str) -> None:
        """Metabase or Grafana may set the session's TimeZone: days stay UTC days."""
        lab.execute("SELECT set_config('TimeZone', %s, false)", (zone,))
        assert select(lab, "*", "metric_channel_day", "day") == self.EXPECTED


class TestMetricInviteLink:
    """Per link: who came through it and who stayed (people only)."""

    def test_links(self, lab: Conn) -> None:
        assert select(lab, "*", "metric_invite_link", "invite_link") == [
            # Dee (request, Nov 10 03:00, removed Nov 11 08:00: 29 h) and Bob's second
            # episode (Nov 11 12:00, open)
            (CHANNEL, "https://t.me/+Partners", "Partners", 2, 1, 0, 1, 29 / 24,
             utc(10, 3), utc(11, 12)),
            # Bob (01:00-07:00: 0.25 d), Cy (Nov 10 02:00 - Nov 11 02:00: 1 d), Fay (open,
            # the latest join: its title "Spring ads v2" is the link's title now)
            (CHANNEL, "https://t.me/+SpringAds", "Spring ads v2", 3, 1, 2, 0, (0.25 + 1) / 2,
             utc(10, 1), utc(10, 13)),
        ]  # fmt: skip


class TestMetricPostViewsCurve:
    """Per publication, its views at every observation (an album: its highest)."""

    def test_album_curve(self, lab: Conn) -> None:
        album = lab.execute(
            "SELECT taken_at, minutes_since_post, views FROM metric_post_views_curve"
            " WHERE tg_post_id = 2 ORDER BY taken_at"
        ).fetchall()
        # first seen by the 11:00 run; then the 11:30 follow-up, hourly runs and the
        # Nov 11 10:30 follow-up: 24 hourly runs from Nov 10 11:00 to Nov 11 10:00, plus 2;
        # past its horizons, a point only when a counter changed: Nov 11 12:00 (views of
        # all three messages, a comment), never 11:00 or 13:00 to Nov 12 00:00
        assert len(album) == 27
        assert album[:4] == [
            (utc(10, 11), 30.0, 150),
            (utc(10, 11, 30), 60.0, 260),
            (utc(10, 12), 90.0, 300),
            (utc(10, 13), 150.0, 300),
        ]
        assert (utc(11, 10, 30), 1440.0, 700) in album
        assert album[-2:] == [(utc(11, 10, 30), 1440.0, 700), (utc(11, 12), 1530.0, 770)]

    def test_points_per_publication(self, lab: Conn) -> None:
        assert select(
            lab,
            "tg_post_id, count(*), min(minutes_since_post), max(minutes_since_post)",
            "metric_post_views_curve GROUP BY tg_post_id",
            "tg_post_id",
        ) == [
            # first at 16 h (960 min): the 9 hourly runs to Nov 10 08:00 (inside its
            # horizons), then only Nov 11 00:00, when its views moved 420 -> 500
            (1, 10, 960.0, 2400.0),
            (2, 27, 30.0, 1530.0),
            # 14:00, 15:00, 16:00: the 17:00 run found it deleted (no snapshot after)
            (5, 3, 0.0, 120.0),
            # hourly runs 06:00 to Nov 12 00:00 (19) and the album's Nov 11 10:30 follow-up
            (6, 20, 0.0, 1080.0),
            (7, 5, 0.0, 240.0),
        ]

    def test_deleted_post_curve(self, lab: Conn) -> None:
        assert lab.execute(
            "SELECT taken_at, views FROM metric_post_views_curve WHERE tg_post_id = 5"
            " ORDER BY taken_at"
        ).fetchall() == [(utc(10, 14), 50), (utc(10, 15), 120), (utc(10, 16), 180)]


def readme_queries() -> list[str]:
    """The SQL examples of the README's "For analysts" (the role's grants left out)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## For analysts\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```sql\n")[1:]]
    return [b for b in blocks if not b.lstrip().startswith("CREATE ROLE")]


class TestReadmeQueries:
    """The README's three example queries run and answer the scenario's questions."""

    def test_three(self, lab: Conn) -> None:
        subscribers, links, reach = (
            lab.execute(q.replace("1234567890", str(CHANNEL))).fetchall()  # type: ignore[arg-type]
            for q in readme_queries()
        )
        assert subscribers == [
            (date(2026, 11, 9), None, 1, 0, 0, 1, 0),
            (date(2026, 11, 10), 1008, 5, 1, 1, 3, 4),
            (date(2026, 11, 11), 1020, 2, 2, 1, -1, 1),
            (date(2026, 11, 12), 1018, 0, 0, 0, 0, 0),
        ]
        assert links == [
            ("Spring ads v2", 3, 1, Decimal("33.3"), Decimal("0.63")),
            ("Partners", 2, 1, Decimal("50.0"), Decimal("1.21")),
        ]
        assert reach == [  # post 5 was deleted; ERR24 is known for the album only
            (2, utc(10, 10, 30), 770, 700, Decimal("69.8")),
            (7, utc(11, 20), 150, None, None),
            (6, utc(11, 6), 900, None, None),
            (1, utc(9, 8), 500, 420, None),
        ]


def test_hours_between_readings() -> None:
    """The module's premise: the scenario is sampled hourly (guards the derivations)."""
    scenario = Scenario.load(LAB)
    assert scenario.interval == timedelta(hours=1)
    assert (scenario.start, scenario.end) == (utc(10), utc(12))
