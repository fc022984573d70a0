"""``tgstat report`` over the metric views.

The database holds two channels: metrics-lab.json (every value below is derived by hand in
test_metric_views.py, whose derivations these tests reuse) and the worked example.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]
from psycopg.rows import dict_row

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.test_metric_views import lab_database
from tgstat.app.report import LEGEND
from tgstat.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
LAB = 1777000020
WORKED = 1777000001
LAB_TITLE = "Metrics Lab (@metrics_lab, id 1777000020)"


@attrs.frozen
class Run:
    """One ``tgstat`` invocation: exit code and what it printed."""

    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The error line, after checking it is one line and the exit code 2."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert self.err.splitlines() == [self.err.strip()], self.err
        assert self.err.startswith("tgstat: error: "), self.err
        return self.err.strip()


@pytest.fixture(name="url", scope="module")
async def _url(server_url: str, template_url: str) -> AsyncIterator[str]:
    async with lab_database(server_url, SCENARIOS / "worked-example.json") as url:
        yield url


@pytest.fixture(name="tgstat")
def _tgstat(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """``tgstat report ARGS`` in this process, against the module's database."""
    for name in [k for k in os.environ if k.startswith("TGSTAT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TGSTAT_DATABASE_URL", url)

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            code = main(["report", *args])
        except SystemExit as e:  # argparse's errors and --help
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


@pytest.fixture(name="view")
def _view(url: str) -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """Rows of a query on the views, as dicts."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        yield lambda query: conn.execute(query).fetchall()


def block(text: str, heading: str) -> list[str]:
    """The lines of the section whose heading starts with ``heading``, up to a blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        out.append(line)
    return out


def cells(text: str, heading: str) -> list[list[str]]:
    """The body rows of a section's table, split on runs of spaces (header dropped)."""
    return [line.split() for line in block(text, heading)[1:]]


def post_ids(text: str) -> list[int]:
    return [int(row[0]) for row in cells(text, "posts")]


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


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARKS_JS = """
(id) => {
  const root = document.getElementById(id);
  const drawn = (el) => { const b = el.getBBox(); return b.width > 0 && b.height > 0; };
  const count = (selector) => [...root.querySelectorAll(selector)].filter(drawn).length;
  return [count("g.barlayer g.point path"), count("g.scatterlayer path.point"),
          count("g.scatterlayer path.js-line")];
}
"""


def browser_or_skip() -> Any:
    """playwright's async API, when it and Debian's chromium are here (CI installs both:
    there a missing one fails the test instead)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        async_playwright = None
    if async_playwright is None or not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("the HTML test needs playwright (dev extra) and /usr/bin/chromium")
        pytest.skip("needs playwright and Debian's chromium (apt-get install chromium)")
    return async_playwright


class TestHtml:
    """The page opens in a real headless Chromium without any request leaving it, and
    every chart has drawn marks for the scenario's data."""

    async def test_page(self, tgstat: Callable[..., Run], tmp_path: Path) -> None:
        async_playwright = browser_or_skip()
        path = tmp_path / "report.html"
        run = tgstat("--channel", "@metrics_lab", "--html", str(path))
        assert (run.code, run.out, run.err) == (0, "", f"wrote {path} (6 charts)\n")
        page_text = path.read_text()
        assert page_text.count(get_plotlyjs()) == 1  # plotly.js inlined, once
        # outside it, nothing refers to another resource
        markup = page_text.replace(get_plotlyjs(), "")
        assert not re.findall(r"""(?:src|href)\s*=|@import|url\(""", markup)

        requests: list[str] = []
        errors: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            context = await browser.new_context(viewport={"width": 1200, "height": 900})

            async def guard(route: Any) -> None:
                requests.append(route.request.url)
                if route.request.url.startswith(("file:", "data:")):
                    await route.continue_()
                else:
                    await route.abort()

            await context.route("**/*", guard)
            page = await context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(path.as_uri())
            await page.wait_for_function(
                "document.querySelectorAll('div.plotly-graph-div.js-plotly-plot').length == 6"
            )
            marks = {n: await page.evaluate(MARKS_JS, f"chart-{LAB}-{n}") for n in range(1, 7)}
            shot = tmp_path / "report.png"
            await page.screenshot(path=str(shot), full_page=True)
            await browser.close()

        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert requests[0] == path.as_uri()
        assert errors == []
        # [bars, markers, lines] with a drawn (non-empty) box
        assert marks == {
            1: [0, 3, 1],  # subscribers: the last readings of Nov 10, 11, 12
            2: [7, 4, 1],  # joins Nov 9-11, leaves and removals Nov 10-11; net on 4 days
            3: [4, 0, 0],  # joins and still subscribed of the 2 links
            4: [2, 0, 0],  # views_24h known: the album (700) and post 1 (420)
            5: [1, 0, 0],  # ERR24 known: the album only (post 1 has no reading before it)
            6: [0, 35, 2],  # first 24 h of post 1 (9 runs from 16 h on) and the album (26)
        }
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000
