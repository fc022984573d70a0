"""examples/make_demo.py: the committed demo is reproducible, --help writes nothing, and a
wall-clock scenario (``--start now``) is one tgstat replays."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from tgstat.adapters.replay import Scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO = EXAMPLES / "demo-channel.json"


def make_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "make_demo.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_default_output_is_the_committed_demo_byte_for_byte() -> None:
    done = make_demo("--out", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout == DEMO.read_text(encoding="utf-8")


def test_help_prints_usage_and_rewrites_nothing() -> None:
    before = DEMO.stat().st_mtime_ns
    done = make_demo("--help")
    assert done.returncode == 0
    assert "--start" in done.stdout
    assert "--seed" in done.stdout
    assert DEMO.stat().st_mtime_ns == before


def test_start_now_writes_a_scenario_of_today_that_parses(tmp_path: Path) -> None:
    out = tmp_path / "live.json"
    done = make_demo(
        "--start", "now", "--days", "1", "--posts", "12", "--seed", "7", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    raw = json.loads(out.read_text(encoding="utf-8"))
    midnight = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    scenario = Scenario.parse(raw)
    assert (scenario.start, scenario.end) == (midnight, midnight + timedelta(days=1))
    assert len(raw["posts"]) >= 12


def test_a_new_shape_without_out_is_refused_in_one_line() -> None:
    done = make_demo("--days", "2")
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("give --out: demo-channel.json is the committed demo")
    )


class TestBadArguments:
    """Each bad argument is one line on stderr, exit 2, and nothing is written."""

    def test_posts_out_of_range_is_said_before_asking_for_out(self) -> None:
        done = make_demo("--posts", "841")
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "make_demo.py: error: --posts: 1 to 840 a day, and at least 6 in all"
        ]

    def test_days_are_bounded(self, tmp_path: Path) -> None:
        done = make_demo("--days", "100000", "--out", str(tmp_path / "x.json"))
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "make_demo.py: error: argument --days: at most 366 days, got 100000"
        ]
        assert not (tmp_path / "x.json").exists()

    def test_unwritable_out(self) -> None:
        done = make_demo("--start", "now", "--out", "/nonexistent/dir/x.json")
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "make_demo.py: error: cannot write /nonexistent/dir/x.json: No such file or directory"
        ]
