"""``tgstat report`` over the worked example: values written by hand from SCENARIO.md."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import Scenario
from tgstat.app.replay import replay
from tgstat.app.report import build_report
from tgstat.ports.repository import UnknownChannelError

WORKED_EXAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "worked-example.json"
CHANNEL = 1777000001


def post_cells(report: str, post_id: int) -> list[str]:
    """The whitespace-separated cells of the table row of ``post_id``."""
    rows = [line.split() for line in report.splitlines() if line.split()[:1] == [str(post_id)]]
    assert len(rows) == 1, report
    return rows[0]


def summary(report: str) -> dict[str, str]:
    """The subscriptions block as label -> value."""
    block = report.split("subscriptions", 1)[1].splitlines()[1:]
    out = {}
    for line in block:
        label, _, value = line.strip().partition("  ")
        if label:
            out[label] = value.strip()
    return out


class TestReport:
    """The report of the worked example shows SCENARIO.md's tables, NULL as "-"."""

    async def test_posts_table(self, repo: PostgresStatRepository, db_url: str) -> None:
        await replay(Scenario.load(WORKED_EXAMPLE), repo)
        report = build_report(db_url)
        assert report.startswith("Worked Example (@worked_example, id 1777000001): 2 posts\n")
        # 08:02 post: 950 now, 300 at 09:02, 900 at Nov 2 08:02; 4 comments; 5+1 -> 8+1+3 = 12
        # reactions with 👍 8 on top; a photo
        assert post_cells(report, 1) == [
            "1",
            "2026-11-01",
            "08:02",
            "950",
            "300",
            "900",
            "4",
            "12",
            "👍",
            "8",
            "photo",
        ]
        # published an hour before end: 40 at end (its 1 h instant), 24 h never came;
        # no discussion (comments 0 or NULL), no reactions (0 or NULL), no top one, no media
        cells = post_cells(report, 2)
        assert cells[:6] == ["2", "2026-11-02", "11:00", "40", "40", "-"]
        assert cells[6] in ("0", "-")
        assert cells[7] in ("0", "-")
        assert cells[8:] == ["-", "-"]

    async def test_subscriptions(self, repo: PostgresStatRepository, db_url: str) -> None:
        await replay(Scenario.load(WORKED_EXAMPLE), repo)
        # episodes: 7 (join Oct 30, left), 42 (by link, premium, left), 42 (plain join, open)
        assert summary(build_report(db_url)) == {
            "joins": "3",
            "leaves": "2",
            "net": "+1",
            "joined by link": "1 of 3 (33%)",
            "premium among joins": "1 of 3 (33%)",
            "subscribed now": "1 (joined in the log window, not left)",
        }

    async def test_one_channel_and_unknown_channel(
        self, repo: PostgresStatRepository, db_url: str
    ) -> None:
        await replay(Scenario.load(WORKED_EXAMPLE), repo)
        assert build_report(db_url, CHANNEL) == build_report(db_url)
        with pytest.raises(UnknownChannelError, match="channel 5 "):
            build_report(db_url, 5)

    def test_empty_database(self, db_url: str) -> None:
        assert build_report(db_url).startswith("no channels in the database")

    async def test_command(self, repo: PostgresStatRepository, db_url: str) -> None:
        await replay(Scenario.load(WORKED_EXAMPLE), repo)
        done = await asyncio.to_thread(
            run_tgstat,
            "report",
            "--channel",
            str(CHANNEL),
            env=clean_env(TGSTAT_DATABASE_URL=db_url),
        )
        assert done.returncode == 0, done.stderr
        assert post_cells(done.stdout, 1)[3:6] == ["950", "300", "900"]
        assert summary(done.stdout)["joins"] == "3"
