"""``tgstat lake etl`` / ``tgstat lake query`` and the ``lake-etl`` flow on real files and a
real Prefect server; db/athena/telegram.sql against what the DuckDB adapter runs."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given

from tests.integration.cli import clean_env
from tests.integration.test_lake_etl import ATHENA_SQL, DAY, EXAMPLES, NewLake, Update, a_message
from tests.integration.test_lake_etl import _new_lake as _new_lake  # the fixture
from tests.integration.test_lake_queries import by_user_day, etl_all_days
from tests.strategies import update_lists
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.cli import run_command
from tgstat.cli.lake import etl_run, query_run
from tgstat.ports.lake_query import NAMED_QUERIES


class TestAthenaSql:
    """db/athena/telegram.sql says what the DuckDB adapter runs (SQL only: local lake)."""

    @EXAMPLES
    @given(update_lists(max_size=40).filter(by_user_day))
    def test_the_athena_file_says_the_same(self, new_lake: NewLake, updates: list[Update]) -> None:
        """db/athena/telegram.sql: its view and queries give the same rows (here on DuckDB)."""
        statements = ATHENA_SQL.read_text().split(";")
        (view,) = (s for s in statements if "CREATE OR REPLACE VIEW messages" in s)
        queries = {
            name: next(s for s in statements if f"-- {name}\n" in s).split(f"-- {name}\n")[1]
            for name in NAMED_QUERIES
        }
        lake = new_lake()
        etl_all_days(lake, updates)
        for name, sql in NAMED_QUERIES.items():
            assert queries[name].split() == sql.split()
            athena = lake.query().query(f"{view}; {queries[name]}")
            assert athena == lake.query().query(sql)


def lake_args(**kwargs: Any) -> argparse.Namespace:
    return argparse.Namespace(verbose=False, **kwargs)


@pytest.fixture(name="lake_env")
def _lake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TGSTAT_HOME whose default lake holds DAY: two text messages and a sticker."""
    for name in list(os.environ):
        if name.startswith("TGSTAT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TGSTAT_HOME", str(tmp_path))
    store = FsspecLakeStore(str(tmp_path / "lake"))
    for u in (a_message(1), a_message(2, text="hé"), a_message(3, text=None, sticker={})):
        store.put_raw(DAY, u["update_id"], json.dumps(u).encode())
    return tmp_path / "lake"


class TestLakeCommands:
    """``tgstat lake etl`` / ``tgstat lake query``: short reports, one-line errors."""

    def test_bad_date_is_one_line(self, lake_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_command(etl_run, lake_args(date="2026-13-01")) == 2
        err = capsys.readouterr().err
        assert err == "tgstat: error: not a date (YYYY-MM-DD): '2026-13-01'\n"

    def test_etl_then_named_query(self, lake_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_command(etl_run, lake_args(date=DAY.isoformat())) == 0
        out = capsys.readouterr().out
        assert out.splitlines() == [
            f"lake etl {DAY}: 3 raw files, 3 messages, 0 events"
            f" -> {lake_env}/enriched/telegram/context_date={DAY}/part-0.parquet,"
            f" {lake_env}/enriched/telegram_event/context_date={DAY}/part-0.parquet",
            "  updates: message 3",
        ]
        args = lake_args(sql=None, named="avg-length-per-user-day", csv=False)
        assert run_command(query_run, args) == 0
        assert capsys.readouterr().out.splitlines() == [
            "context_date  user_id  avg_text_length  text_messages",
            "------------  -------  ---------------  -------------",
            "2026-11-20          7             5.50              2",
            "(1 row)",
        ]

    def test_query_csv_and_errors(self, lake_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        sql = "SELECT message_id, text FROM telegram ORDER BY 1"
        assert run_command(query_run, lake_args(sql=sql, named=None, csv=True)) == 2
        assert capsys.readouterr().err.startswith("tgstat: error: no enriched data yet")
        run_command(etl_run, lake_args(date=DAY.isoformat()))
        capsys.readouterr()
        assert run_command(query_run, lake_args(sql=sql, named=None, csv=True)) == 0
        assert capsys.readouterr().out == "message_id,text\n1,message 1\n2,hé\n3,\n"
        assert run_command(query_run, lake_args(sql="SELEC", named=None, csv=False)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("tgstat: error: Parser Error: syntax error")


class TestLakeEtlFlow:
    """The ``lake-etl`` flow on a real Prefect server; its deployment serves on a cron."""

    def test_run_returns_the_report(
        self, lake_env: Path, prefect_api_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tgstat.flows.lake_etl_flow import lake_etl

        (lake_env / "raw/telegram/context_date=2026-11-20/99.json").write_bytes(b"{")
        with temporary_settings({PREFECT_API_URL: prefect_api_url}):
            state = lake_etl(day=DAY.isoformat(), return_state=True)
            assert state.is_completed()  # a quarantine does not fail the run
            report = state.result()
        assert report == {
            "day": "2026-11-20",
            "files": 4,
            "messages": 3,
            "events": 0,
            "kinds": {"message": 3},
            "malformed": 0,
            "skipped": 0,
            "quarantined": ["99.json"],
            "ignored": [],
            "swept": [],
            "path": f"{lake_env}/enriched/telegram/context_date=2026-11-20/part-0.parquet",
            "events_path": (
                f"{lake_env}/enriched/telegram_event/context_date=2026-11-20/part-0.parquet"
            ),
        }

    def test_serve_refuses_without_prefect_api_url(self, tmp_path: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "tgstat.flows.lake_etl_flow"],
            env={
                k: v
                for k, v in clean_env(TGSTAT_HOME=str(tmp_path)).items()
                if k != "PREFECT_API_URL"
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: PREFECT_API_URL is not set")
        assert done.stderr.count("\n") == 1

    def test_served_on_a_daily_cron_in_the_lake_zone(
        self, tmp_path: Path, prefect_api_url: str
    ) -> None:
        env = clean_env(
            TGSTAT_HOME=str(tmp_path),
            TGSTAT_LAKE_TZ="Europe/Berlin",
            PREFECT_API_URL=prefect_api_url,
        )
        served = subprocess.Popen(
            [sys.executable, "-m", "tgstat.flows.lake_etl_flow"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            schedules = self._wait_schedules(prefect_api_url, timeout=60)
        finally:
            os.killpg(served.pid, signal.SIGINT)
            try:
                served.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(served.pid, signal.SIGKILL)
        assert [(s["cron"], s["timezone"]) for s in schedules] == [("15 0 * * *", "Europe/Berlin")]

    @staticmethod
    def _wait_schedules(api: str, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=api) as http:
            while time.monotonic() < deadline:
                r = http.post(
                    "/deployments/filter",
                    json={"deployments": {"name": {"any_": ["lake-etl"]}}},
                )
                r.raise_for_status()
                for d in r.json():
                    if d["schedules"]:
                        return [s["schedule"] for s in d["schedules"]]
                time.sleep(0.5)
        raise AssertionError("the lake-etl deployment did not appear")
