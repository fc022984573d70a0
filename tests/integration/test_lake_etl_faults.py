"""The lake ETL on an operator's bad day: odd entries in a raw day, temp files of killed
runs, a full disk, a lake root that is not a directory; real files, real processes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.app.lake import describe
from tgstat.app.prefect_server import free_port
from tgstat.services.lake_etl import STALE_TEMP_AGE, run_etl

DAY_TEXT = "2026-11-01"


def a_message(update_id: int) -> bytes:
    message = {
        "message_id": update_id,
        "date": 1793534400,
        "chat": {"id": -100, "type": "supergroup"},
        "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
        "text": "x" * 200 + str(update_id),
    }
    return json.dumps({"update_id": update_id, "message": message}).encode()


@pytest.fixture(name="home")
def _home(tmp_path: Path) -> Path:
    """A TGSTAT_HOME whose lake holds 2,000 messages on DAY_TEXT."""
    store = FsspecLakeStore(str(tmp_path / "lake"))
    day = _day()
    for update_id in range(1, 2001):
        store.put_raw(day, update_id, a_message(update_id))
    return tmp_path


def _day() -> date:
    return date.fromisoformat(DAY_TEXT)


def raw_dir(home: Path) -> Path:
    return home / "lake" / "raw" / "telegram" / f"context_date={DAY_TEXT}"


def enriched_dir(home: Path, table: str = "telegram") -> Path:
    return home / "lake" / "enriched" / table / f"context_date={DAY_TEXT}"


def backdate(path: Path, by: timedelta) -> None:
    old = time.time() - by.total_seconds()
    os.utime(path, (old, old))


class TestOddEntries:
    """Entries that are not regular files never stop the day: ignored, and said so."""

    def test_directory_named_like_an_update(self, home: Path) -> None:
        (raw_dir(home) / "something.json").mkdir()
        (raw_dir(home) / "link.json").symlink_to("/etc/hostname")
        report = run_etl(FsspecLakeStore(str(home / "lake")), _day())
        assert report.messages == 2000
        assert report.ignored == ("link.json", "something.json")
        assert (
            "  ignored 2 not regular files: link.json, something.json"
            in describe(report).splitlines()
        )
        assert (raw_dir(home) / "something.json").is_dir()  # left alone


_KILLED_MID_WRITE = f"""
import os, sys
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.app.lake import parse_day
from tgstat.services import lake_etl

def dying(*args, **kwargs):
    yield from real(*args, **kwargs)
    if sys.argv[2] == "die":
        os._exit(9)
    sys.stdin.readline()  # "hang": alive and holding its temp files until told
real = lake_etl._Tally.batches
lake_etl._Tally.batches = dying
lake_etl.run_etl(FsspecLakeStore(sys.argv[1]), parse_day("{DAY_TEXT}"))
"""


def etl_process(home: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_WRITE, str(home / "lake"), mode],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )


def temps(home: Path) -> list[Path]:
    found = [*enriched_dir(home).glob(".*.tmp"), *enriched_dir(home, "telegram_event").glob(".*")]
    return sorted(found + list(raw_dir(home).glob(".*.tmp")))


def wait_for_temps(home: Path, count: int) -> list[Path]:
    deadline = time.monotonic() + 60
    while len(found := temps(home)) < count:
        assert time.monotonic() < deadline, "no temp files appeared"
        time.sleep(0.05)
    return found


class TestStaleTemps:
    """Temp files of killed writers are removed by the next run; a live run's are not."""

    def test_killed_runs_leftovers_are_removed(self, home: Path) -> None:
        killed = etl_process(home, "die")
        assert killed.wait(timeout=60) == 9, killed.stderr.read() if killed.stderr else ""
        left = temps(home)
        assert len(left) == 2  # .part-0.parquet.<uuid>.tmp of both tables
        webhook_leftover = raw_dir(home) / ".77.json.0123abcd.tmp"
        webhook_leftover.write_bytes(b'{"update_id": 77')
        fresh = enriched_dir(home) / ".part-0.parquet.fresh.tmp"
        fresh.write_bytes(b"being written")
        for path in [*left, webhook_leftover]:
            backdate(path, STALE_TEMP_AGE + timedelta(minutes=1))
        report = run_etl(FsspecLakeStore(str(home / "lake")), _day())
        assert len(report.swept) == 3
        assert temps(home) == [fresh]  # too young to be a killed writer's
        assert "  removed 3 stale temp files of killed writers" in describe(report).splitlines()

    def test_live_runs_temps_are_kept(self, home: Path) -> None:
        """A run still writing holds its temp files: however old they look, a sweep leaves
        them, and the run then publishes its day."""
        live = etl_process(home, "hang")
        try:
            held = wait_for_temps(home, 2)
            for path in held:
                backdate(path, STALE_TEMP_AGE * 3)
            store = FsspecLakeStore(str(home / "lake"))
            assert store.sweep_temps(_day(), STALE_TEMP_AGE) == []
            assert temps(home) == held
            assert live.stdin is not None
            live.stdin.write(b"go on\n")
            live.stdin.close()
            assert live.wait(timeout=60) == 0, live.stderr.read() if live.stderr else ""
        finally:
            if live.poll() is None:
                live.send_signal(signal.SIGKILL)
                live.wait()
        assert temps(home) == []
        assert (enriched_dir(home) / "part-0.parquet").stat().st_size > 0


def _file_size_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))


class TestIoErrors:
    """Any OSError of the lake is one line and exit 2 from ``tgstat lake ...``."""

    def test_full_disk_is_one_line(self, home: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tgstat.cli", "lake", "etl", "--date", DAY_TEXT],
            env=clean_env(TGSTAT_HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_file_size_limit,
            check=False,
        )
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: cannot write the enriched partitions")
        assert done.stderr.count("\n") == 1, done.stderr
        assert temps(home) == []
        assert not (enriched_dir(home) / "part-0.parquet").exists()

    @pytest.mark.parametrize("command", [["etl", "--date", DAY_TEXT], ["webhook", "--port"]])
    def test_lake_root_not_a_directory(self, tmp_path: Path, command: list[str]) -> None:
        if command[-1] == "--port":
            command = [*command, str(free_port())]
        (tmp_path / "lake").write_text("not a directory")
        env = clean_env(
            TGSTAT_HOME=str(tmp_path),
            TGSTAT_BOT_SECRET_TOKEN="s3cret",
            TGSTAT_BOT_CHAT_IDS="-100",
        )
        done = run_tgstat("lake", *command, env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("tgstat: error: ")
        assert done.stderr.count("\n") == 1, done.stderr
        assert "Not a directory" in done.stderr
