"""``tgstat report --format csv|json``: every column of the views, read back as the same values."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.report.conftest import LAB, WORKED, Run
from tgstat.app.report import LEGEND


def parse_csv_field(field: str, like: Any) -> Any:
    """A CSV field read back as the type of the view's value ``like``."""
    if field == "":
        return None
    if isinstance(like, bool):
        return {"true": True, "false": False}[field]
    if isinstance(like, int):
        return int(field)
    if isinstance(like, float):
        return float(field)
    if isinstance(like, datetime):
        return datetime.fromisoformat(field)
    if isinstance(like, date):
        return date.fromisoformat(field)
    return field


def read_csv(text: str, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(expected)
    return [
        {k: parse_csv_field(v, want[k]) for k, v in row.items()}
        for row, want in zip(rows, expected, strict=True)
    ]


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}


LAB_VIEWS = {
    "posts": f"SELECT * FROM metric_post WHERE tg_channel_id = {LAB}"
    " ORDER BY date_of_post DESC, tg_post_id DESC",
    "days": f"SELECT * FROM metric_channel_day WHERE tg_channel_id = {LAB} ORDER BY day",
    "links": f"SELECT * FROM metric_invite_link WHERE tg_channel_id = {LAB}"
    " ORDER BY joins DESC, invite_link",
    "curves": f"SELECT * FROM metric_post_views_curve WHERE tg_channel_id = {LAB}"
    " ORDER BY tg_post_id, taken_at",
}

LAB_SUBSCRIBERS = {  # hand-derived: see TestTable.test_lab
    "tg_channel_id": LAB, "first_day": date(2026, 11, 9), "last_day": date(2026, 11, 12),
    "subscribers": 1018, "subscribers_day": date(2026, 11, 12),
    "subscribers_before": 1008, "subscribers_before_day": date(2026, 11, 10),
    "subscribers_change": 10, "joins": 8, "leaves": 3, "removals": 2, "net": 3,
    "joins_by_link": 5, "premium_joins": 2, "bot_joins": 1, "posts_published": 5,
}  # fmt: skip


class TestMachineReadable:
    """CSV and JSON carry every column of the views and read back as the same values."""

    @pytest.mark.parametrize("section", ["posts", "days", "links", "curves"])
    def test_csv_reads_back_as_the_view(
        self, tgstat: Callable[..., Run], view: Callable[[str], Any], section: str
    ) -> None:
        expected = view(LAB_VIEWS[section])
        run = tgstat("--channel", str(LAB), "--format", "csv", "--section", section)
        assert run.code == 0, run.err
        assert run.out.splitlines()[0].split(",") == list(expected[0])
        assert read_csv(run.out, expected) == expected

    def test_csv_subscribers(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--format", "csv", "--section", "subscribers")
        assert read_csv(run.out, [LAB_SUBSCRIBERS]) == [LAB_SUBSCRIBERS]

    def test_csv_defaults_to_posts_of_every_channel(
        self, tgstat: Callable[..., Run], view: Callable[[str], Any]
    ) -> None:
        out = tgstat("--format", "csv", "--sort", "views_24h", "--top", "1").out
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [(r["tg_channel_id"], r["tg_post_id"], r["views_24h"]) for r in rows] == [
            (str(WORKED), "1", "900"),
            (str(LAB), "2", "700"),
        ]
        # NULL is an empty field, a boolean true or false
        assert (rows[1]["deleted_at"], rows[1]["is_deleted"]) == ("", "false")

    def test_json_reads_back_as_the_views(
        self, tgstat: Callable[..., Run], view: Callable[[str], Any], tmp_path: Path
    ) -> None:
        path = tmp_path / "report.json"
        args = ["--channel", "@metrics_lab", "--format", "json", "--output", str(path)]
        sections = ["--section", "subscribers", "--section", "days", "--section", "links"]
        run = tgstat(*args, *sections, "--section", "posts", "--section", "curves")
        assert (run.code, run.out) == (0, "")
        doc = json.loads(path.read_text())
        assert doc["legend"] == LEGEND
        (channel,) = doc["channels"]
        assert (channel["tg_channel_id"], channel["title"]) == (LAB, "Metrics Lab")
        assert channel["subscribers"] == as_json(LAB_SUBSCRIBERS)
        for section, query in LAB_VIEWS.items():
            assert channel[section] == [as_json(row) for row in view(query)], section

    def test_json_sections_and_range(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--format", "json", "--since", "2026-11-11")
        doc = json.loads(run.out)
        (channel,) = doc["channels"]
        assert (doc["since"], doc["until"]) == ("2026-11-11", None)
        assert set(channel) == {
            "tg_channel_id", "title", "username", "subscribers", "days", "links", "posts",
        }  # fmt: skip
        assert [p["tg_post_id"] for p in channel["posts"]] == [7, 6]
        assert channel["posts"][1]["comments"] is None  # no thread: null, never 0
