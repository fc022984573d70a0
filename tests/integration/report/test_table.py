"""``tgstat report`` as a table, and its bad options as one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.report.conftest import LAB, LAB_TITLE, Run, block, cells, post_ids
from tgstat.app.report import LEGEND


class TestTable:
    """The terminal report: sections, legend, and every selection option."""

    def test_lab(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", "Metrics Lab")
        assert run.code == 0, run.err
        assert run.out.startswith(f"{LAB_TITLE}: 2026-11-09 to 2026-11-12 (UTC days)\n")
        assert [line.split()[:2] for line in block(run.out, "subscribers")] == [
            ["now", "1018"],  # the last reading of Nov 12 (00:00)
            ["before", "1008"],  # no reading before the range: Nov 10's last (23:00)
            ["change", "+10"],
            ["joins", "8"],  # 1 + 5 + 2 + 0 people
            ["leaves", "3"],
            ["removals", "2"],
            ["net", "+3"],
            ["bots", "added"],
        ]
        assert block(run.out, "subscribers")[-1].split()[2] == "1"
        assert cells(run.out, "per day") == [
            ["2026-11-09", "1", "0", "0", "+1", "0", "1", "0", "-", "1", "420.0"],
            ["2026-11-10", "5", "1", "1", "+3", "4", "1", "1", "1008", "2", "700.0"],
            ["2026-11-11", "2", "2", "1", "-1", "1", "0", "0", "1020", "2", "-"],
            ["2026-11-12", "0", "0", "0", "+0", "0", "0", "0", "1018", "0", "-"],
        ]
        assert cells(run.out, "invite links") == [
            ["https://t.me/+SpringAds", "Spring", "ads", "v2", "3", "1", "33.3%", "2", "0", "0.62"],
            ["https://t.me/+Partners", "Partners", "2", "1", "50.0%", "0", "1", "1.21"],
        ]
        assert cells(run.out, "posts") == [
            ["7", "2026-11-11", "20:00", "150", "90", "-", "14.7%", "-", "7", "0", "0"],
            ["6", "2026-11-11", "06:00", "900", "400", "-", "89.3%", "-", "0", "-", "3", "webpage"],
            ["5", "2026-11-10", "14:00", "180", "120", "-", "17.8%", "-", "3", "1", "0",
             "deleted", "2026-11-10", "17:00"],
            ["2", "2026-11-10", "10:30", "770", "260", "700", "76.8%", "69.8%", "11", "3", "5",
             "photo", "album", "of", "3"],
            ["1", "2026-11-09", "08:00", "500", "-", "420", "-", "-", "4", "2", "2"],
        ]  # fmt: skip
        assert run.out.endswith(f"\n{LEGEND}\n")

    def test_every_channel_by_default(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat()
        titles = [line for line in run.out.splitlines() if " (UTC days)" in line]
        assert titles == [
            "Worked Example (@worked_example, id 1777000001): 2026-10-30 to 2026-11-02 (UTC days)",
            f"{LAB_TITLE}: 2026-11-09 to 2026-11-12 (UTC days)",
        ]
        assert run.out.count(LEGEND) == 1

    @pytest.mark.parametrize(
        "name", ["Metrics Lab", "metrics lab", "@metrics_lab", "@Metrics_Lab", str(LAB)]
    )
    def test_channel_by_title_username_or_id(self, tgstat: Callable[..., Run], name: str) -> None:
        run = tgstat("--channel", name)
        assert run.code == 0, run.err
        assert run.out == tgstat("--channel", "Metrics Lab").out
        assert "Worked Example" not in run.out

    def test_worked_example(self, tgstat: Callable[..., Run]) -> None:
        """Its subscriber timeline is missing (the gateway read 0): ERR is unknown, not 0."""
        run = tgstat("--channel", "Worked Example", "--section", "posts")
        assert cells(run.out, "posts") == [
            ["2", "2026-11-02", "11:00", "40", "40", "-", "-", "-", "0", "-", "0"],
            ["1", "2026-11-01", "08:02", "950", "300", "900", "-", "-", "12", "4", "2", "photo"],
        ]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("date", [7, 6, 5, 2, 1]),  # newest first
            ("views", [6, 2, 1, 5, 7]),  # 900, 770, 500, 180, 150
            ("views_24h", [2, 1, 7, 6, 5]),  # 700, 420, then unknown ones newest first
            ("err_24h", [2, 7, 6, 5, 1]),  # only the album's is known
            ("reactions", [2, 7, 1, 5, 6]),  # 11, 7, 4, 3, 0
            ("comments", [2, 1, 5, 7, 6]),  # 3, 2, 1, 0, then 6 (no thread: unknown)
        ],
    )
    def test_sort(self, tgstat: Callable[..., Run], sort: str, expected: list[int]) -> None:
        assert post_ids(tgstat("--channel", str(LAB), "--sort", sort).out) == expected

    def test_top(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--sort", "views", "--top", "2")
        assert post_ids(run.out) == [6, 2]
        assert "highest views first, top 2" in run.out

    def test_one_day(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--since", "2026-11-10", "--until", "2026-11-10")
        assert run.out.startswith(f"{LAB_TITLE}: 2026-11-10 to 2026-11-10 (UTC days)\n")
        assert [row[0] for row in cells(run.out, "per day")] == ["2026-11-10"]
        assert post_ids(run.out) == [5, 2]
        # both links brought someone that day (all-time figures)
        assert [row[0] for row in cells(run.out, "invite links")] == [
            "https://t.me/+SpringAds",
            "https://t.me/+Partners",
        ]
        # now: Nov 10's 1008; before: none before the range, so Nov 10's own
        assert [line.split()[1] for line in block(run.out, "subscribers")][:7] == [
            "1008", "1008", "+0", "5", "1", "1", "+3",
        ]  # fmt: skip

    def test_since(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--since", "2026-11-11")
        assert post_ids(run.out) == [7, 6]
        assert [row[0] for row in cells(run.out, "invite links")] == ["https://t.me/+Partners"]
        # before: the last reading before Nov 11 (Nov 10's 1008); Nov 11-12: 2 joins,
        # 2 leaves, 1 removal
        assert [line.split()[1] for line in block(run.out, "subscribers")][:7] == [
            "1018", "1008", "+10", "2", "2", "1", "-1",
        ]  # fmt: skip

    def test_nothing_in_range(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--since", "2027-01-01")
        assert run.code == 0, run.err
        assert run.out.startswith(f"{LAB_TITLE}: nothing observed in the range\n")
        assert block(run.out, "subscribers")[0].split()[:2] == ["now", "-"]
        assert block(run.out, "posts") == ["  (no posts)"]

    def test_sections(self, tgstat: Callable[..., Run]) -> None:
        run = tgstat("--channel", str(LAB), "--section", "posts", "--section", "days")
        headings = [line for line in run.out.splitlines() if line.endswith(")") and "(" in line]
        assert [h.split(" (")[0] for h in headings[1:]] == ["posts", "per day"]
        run = tgstat("--channel", str(LAB), "--section", "curves", "--top", "1")
        # the newest post (7) alone: the hourly runs from its publication to the end
        assert cells(run.out, "views curves") == [
            ["7", "2026-11-11", "20:00", "0.0", "10"],
            ["7", "2026-11-11", "21:00", "60.0", "90"],
            ["7", "2026-11-11", "22:00", "120.0", "90"],
            ["7", "2026-11-11", "23:00", "180.0", "150"],
            ["7", "2026-11-12", "00:00", "240.0", "150"],
        ]

    def test_output_file(self, tgstat: Callable[..., Run], tmp_path: Path) -> None:
        path = tmp_path / "report.txt"
        run = tgstat("--channel", str(LAB), "--output", str(path))
        assert (run.code, run.out) == (0, "")
        assert path.read_text() == tgstat("--channel", str(LAB)).out


class TestBadOptions:
    """A wrong option is one line on stderr and exit code 2, before any output."""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--channel", "Nope"], "no channel 'Nope' in the database (channels: Worked"),
            (["--since", "2026-11-12", "--until", "2026-11-10"],
             "--since 2026-11-12 is after --until 2026-11-10"),
            (["--since", "2026-13-01"], "argument --since: not a date (YYYY-MM-DD): '2026-13-01'"),
            (["--until", "yesterday"], "argument --until: not a date (YYYY-MM-DD): 'yesterday'"),
            (["--top", "0"], "argument --top: must be 1 or more: '0'"),
            (["--top", "ten"], "argument --top: not a whole number: 'ten'"),
            (["--sort", "likes"], "argument --sort: invalid choice: 'likes'"),
            (["--section", "everything"], "argument --section: invalid choice: 'everything'"),
            (["--format", "csv", "--section", "posts", "--section", "days"],
             "--format csv writes one table: pick one --section (got posts, days)"),
            (["--html", "a.html", "--format", "json"], "not allowed with argument"),
            (["--html", "a.html", "--output", "b"], "--output goes with --format"),
            (["--format", "csv", "--output", "/nonexistent/dir/r.csv"],
             "cannot write /nonexistent/dir/r.csv: No such file or directory"),
        ],
    )  # fmt: skip
    def test_one_line(self, tgstat: Callable[..., Run], args: list[str], message: str) -> None:
        run = tgstat(*args)
        assert message in run.one_line_error()
        assert run.out == ""

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--channel", "Nope"], "tgstat: error: no channel 'Nope' in the database"),
            (["--since", "2026-11-12", "--until", "2026-11-10"],
             "tgstat: error: --since 2026-11-12 is after --until 2026-11-10"),
            (["--since", "12/11/2026"],
             "tgstat: error: tgstat report: argument --since: not a date (YYYY-MM-DD)"),
        ],
    )  # fmt: skip
    def test_as_a_user_runs_it(self, url: str, args: list[str], message: str) -> None:
        done = run_tgstat("report", *args, env=clean_env(TGSTAT_DATABASE_URL=url))
        assert Run(done.returncode, done.stdout, done.stderr).one_line_error().startswith(message)
