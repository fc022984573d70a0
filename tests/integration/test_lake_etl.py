"""The daily lake ETL and SQL over it, on real files (a fresh local lake root per example).

The store/ETL/query classes take their lake from the ``new_lake`` fixture; test_lake_s3.py
runs the same classes against S3 (moto's server on loopback) by overriding it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import attrs
import fsspec
import httpx
import pyarrow.parquet as pq
import pytest
from fsspec.spec import AbstractFileSystem
from hypothesis import HealthCheck, given, settings

from tests.integration.cli import clean_env
from tests.strategies import LAKE_DAY_START, update_lists
from tgstat.adapters.duckdb_query import NAMED_QUERIES, DuckDbLakeQuery
from tgstat.adapters.fsspec_lake import SCHEMA, FsspecLakeStore
from tgstat.cli import run_command
from tgstat.cli.lake import etl_run, query_run
from tgstat.ports.lake_query import QueryError
from tgstat.services.lake_etl import MALFORMED_MESSAGE, run_etl

DAY = datetime.fromtimestamp(LAKE_DAY_START, UTC).date()  # 2026-11-20
# differing_executors: test_lake_s3.py runs these (stateless) classes again, on S3.
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
Update = dict[str, Any]


@attrs.frozen
class Lake:
    """A fresh lake root: its store, and the filesystem to look behind the store's back."""

    store: FsspecLakeStore
    fs: AbstractFileSystem
    root: str
    """The root as a path of ``fs`` (no protocol)."""
    options: dict[str, Any]
    """The storage options the store was built with (for the query adapter)."""

    def dir(self, area: str, day: date) -> str:
        return f"{self.root}/{area}/telegram/context_date={day.isoformat()}"

    def names(self, area: str, day: date) -> list[str]:
        directory = self.dir(area, day)
        self.fs.invalidate_cache()
        if not self.fs.exists(directory):
            return []
        return sorted(p.rsplit("/", 1)[-1] for p in self.fs.ls(directory, detail=False))

    def enriched(self, day: date) -> list[dict[str, Any]]:
        with self.fs.open(f"{self.dir('enriched', day)}/part-0.parquet", "rb") as f:
            rows: list[dict[str, Any]] = pq.read_table(f).to_pylist()
            return rows

    def query(self) -> DuckDbLakeQuery:
        return DuckDbLakeQuery(self.store.enriched_glob(), **self.options)


NewLake = Callable[[], Lake]


@pytest.fixture(name="new_lake", scope="module")
def _new_lake(tmp_path_factory: pytest.TempPathFactory) -> NewLake:
    """Makes a fresh local lake root per call (hypothesis examples need their own)."""

    def make() -> Lake:
        root = tmp_path_factory.mktemp("lake")
        return Lake(FsspecLakeStore(str(root)), fsspec.filesystem("file"), str(root), {})

    return make


def store_updates(lake: Lake, day: date, updates: Sequence[Update]) -> None:
    for u in updates:  # both escaped and raw UTF-8, as senders differ
        body = json.dumps(u, ensure_ascii=u["update_id"] % 2 == 0).encode()
        assert lake.store.put_raw(day, u["update_id"], body)


def expected_rows(updates: Sequence[Update]) -> list[dict[str, Any]]:
    """The rows, computed from the JSON itself, in file-name order."""
    rows = []
    for u in sorted(updates, key=lambda u: f"{u['update_id']}.json"):
        if "message" not in u:
            continue
        m = u["message"]
        sender = m.get("from", {})
        rows.append(
            {
                "message_id": m["message_id"],
                "user_id": sender.get("id"),
                "user_is_bot": sender.get("is_bot"),
                "user_first_name": sender.get("first_name"),
                "chat_id": m["chat"]["id"],
                "chat_type": m["chat"]["type"],
                "text": m.get("text"),
                "date": m["date"],
            }
        )
    return rows


def other_kinds(updates: Sequence[Update]) -> dict[str, int]:
    kinds = Counter(k for u in updates for k in u if k not in ("update_id", "message"))
    return dict(kinds)


def a_message(update_id: int, **fields: Any) -> Update:
    message = {
        "message_id": update_id,
        "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
        "chat": {"id": -100123, "type": "supergroup", "title": "G"},
        "date": LAKE_DAY_START + update_id,
        "text": f"message {update_id}",
    }
    return {"update_id": update_id, "message": message | fields}


class TestEtlRows:
    """The day's Parquet holds exactly one row per ``message`` update, with its values."""

    @EXAMPLES
    @given(update_lists())
    def test_rows_equal_the_raw_json(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        store_updates(lake, DAY, updates)
        report = run_etl(lake.store, DAY, batch_size=7)
        if not updates:
            assert (report.files, report.path) == (0, None)
            assert lake.names("enriched", DAY) == []
            return
        assert lake.enriched(DAY) == expected_rows(updates)
        assert report.files == len(updates)
        assert report.messages == len(expected_rows(updates))
        assert report.other_kinds == other_kinds(updates)
        assert report.quarantined == ()

    def test_one_row_group_per_batch(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(i) for i in range(1, 21)])
        report = run_etl(lake.store, DAY, batch_size=8)
        assert report.messages == 20
        with lake.fs.open(f"{lake.dir('enriched', DAY)}/part-0.parquet", "rb") as f:
            assert pq.ParquetFile(f).metadata.num_row_groups == 3

    def test_rerun_replaces_the_day(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(i) for i in range(1, 6)])
        first = run_etl(lake.store, DAY)
        rows = lake.enriched(DAY)
        assert run_etl(lake.store, DAY) == first
        assert lake.enriched(DAY) == rows
        assert lake.names("enriched", DAY) == ["part-0.parquet"]
        store_updates(lake, DAY, [a_message(6)])
        assert run_etl(lake.store, DAY).messages == 6
        assert len(lake.enriched(DAY)) == 6
        assert lake.names("enriched", DAY) == ["part-0.parquet"]

    def test_a_day_without_messages_is_an_empty_partition(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [{"update_id": 1, "poll": {"id": "5"}}])
        report = run_etl(lake.store, DAY)
        assert (report.files, report.messages, report.other_kinds) == (1, 0, {"poll": 1})
        assert lake.enriched(DAY) == []

    def test_a_day_without_raw_files_writes_nothing(self, new_lake: NewLake) -> None:
        lake = new_lake()
        report = run_etl(lake.store, DAY)
        assert (report.files, report.messages, report.path) == (0, 0, None)
        assert lake.names("enriched", DAY) == []


class TestQuarantine:
    """A raw file that is not an update is moved aside; the rest of the day is written."""

    BROKEN = {  # noqa: RUF012
        "90.json": b'{"update_id": 90, "message": {"mess',
        "91.json": b"[1, 2]",
        "92.json": b'{"update_id": "92", "message": {}}',
        "93.json": b"\xff\xfe not utf-8",
        "94.json": b"[" * 100_000,
    }

    def test_broken_files_are_quarantined(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(i) for i in range(1, 4)])
        for name, body in self.BROKEN.items():
            lake.store.put_raw(DAY, int(name.removesuffix(".json")), body)
        report = run_etl(lake.store, DAY)
        assert report.quarantined == tuple(self.BROKEN)
        assert (report.files, report.messages) == (8, 3)
        assert lake.names("raw", DAY) == ["1.json", "2.json", "3.json"]
        assert lake.names("quarantine", DAY) == sorted(self.BROKEN)
        with lake.fs.open(f"{lake.dir('quarantine', DAY)}/90.json", "rb") as f:
            assert f.read() == self.BROKEN["90.json"]
        assert [r["message_id"] for r in lake.enriched(DAY)] == [1, 2, 3]
        assert run_etl(lake.store, DAY).quarantined == ()  # they are gone from raw

    def test_unstorable_messages_are_skipped_not_fatal(self, new_lake: NewLake) -> None:
        lake = new_lake()
        updates = [
            a_message(1),
            a_message(2, message_id=2**63),  # beyond int64
            a_message(3, chat={"type": "group"}),  # no chat id
        ]
        store_updates(lake, DAY, updates)
        lake.store.put_raw(DAY, 4, b'{"update_id": 4, "message": {"text": "\\ud800"}}')
        surrogate = json.dumps(a_message(5)).replace("message 5", "\\ud800 lone")
        lake.store.put_raw(DAY, 5, surrogate.encode())
        report = run_etl(lake.store, DAY)
        assert report.messages == 1
        assert report.other_kinds == {MALFORMED_MESSAGE: 4}
        assert report.quarantined == ()
        assert [r["message_id"] for r in lake.enriched(DAY)] == [1]


class TestParquetFile:
    """The file has the explicit schema, zstd pages, and ignores unfinished raw files."""

    def test_schema_and_compression(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1), a_message(2, text=None)])
        run_etl(lake.store, DAY)
        with lake.fs.open(f"{lake.dir('enriched', DAY)}/part-0.parquet", "rb") as f:
            parquet = pq.ParquetFile(f)
            assert parquet.schema_arrow == SCHEMA
            meta = parquet.metadata
            chunks = [
                meta.row_group(g).column(c)
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            ]
        assert chunks
        assert {c.compression for c in chunks} == {"ZSTD"}

    def test_dot_temp_raw_files_are_ignored(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1)])
        partial = f"{lake.dir('raw', DAY)}/.2.json.5f1c.tmp"
        lake.fs.pipe_file(partial, b'{"update_id": 2, "mess')  # a crash before the rename
        report = run_etl(lake.store, DAY)
        assert (report.files, report.messages, report.quarantined) == (1, 1, ())
        assert lake.names("quarantine", DAY) == []


def partition_of(update: Update) -> date:
    """Message updates by their message's UTC date; the rest arrived on DAY."""
    if "message" in update:
        return datetime.fromtimestamp(update["message"]["date"], UTC).date()
    return DAY


def by_user_day(updates: Sequence[Update]) -> dict[tuple[date, int], list[dict[str, Any]]]:
    groups: dict[tuple[date, int], list[dict[str, Any]]] = defaultdict(list)
    for u in updates:
        m = u.get("message")
        if m is not None and "from" in m:
            groups[(partition_of(u), m["from"]["id"])].append(m)
    return dict(sorted(groups.items()))


class TestNamedQueries:
    """The reference queries give the values computed here from the raw updates."""

    def etl_all_days(self, lake: Lake, updates: Sequence[Update]) -> None:
        days = defaultdict(list)
        for u in updates:
            days[partition_of(u)].append(u)
        for day, todays in days.items():
            store_updates(lake, day, todays)
            run_etl(lake.store, day)

    @EXAMPLES
    @given(update_lists(max_size=80).filter(lambda us: any("message" in u for u in us)))
    def test_messages_per_user_day(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        self.etl_all_days(lake, updates)
        columns, rows = lake.query().query(NAMED_QUERIES["messages-per-user-day"])
        assert columns == ["context_date", "user_id", "user_first_name", "messages"]
        expected = by_user_day(updates)
        assert [(r[0], r[1], r[3]) for r in rows] == [
            (d, u, len(ms)) for (d, u), ms in expected.items()
        ]
        for row, messages in zip(rows, expected.values(), strict=True):
            last = max(m["date"] for m in messages)  # the name of the day's last message
            assert row[2] in {m["from"]["first_name"] for m in messages if m["date"] == last}

    @EXAMPLES
    @given(update_lists(max_size=80).filter(lambda us: any("message" in u for u in us)))
    def test_avg_length_per_user_day(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        self.etl_all_days(lake, updates)
        columns, rows = lake.query().query(NAMED_QUERIES["avg-length-per-user-day"])
        assert columns == ["context_date", "user_id", "avg_text_length", "text_messages"]
        expected = [
            (day, user, fmean(len(m["text"]) for m in texts), len(texts))
            for (day, user), ms in by_user_day(updates).items()
            if (texts := [m for m in ms if "text" in m])
        ]
        assert [(r[0], r[1], r[3]) for r in rows] == [(d, u, n) for d, u, _, n in expected]
        assert [r[2] for r in rows] == pytest.approx([avg for _, _, avg, _ in expected])

    def test_context_date_is_a_date_column(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1)])
        run_etl(lake.store, DAY)
        _, rows = lake.query().query(
            "SELECT typeof(context_date), context_date, count(*) FROM telegram GROUP BY ALL"
        )
        assert rows == [("DATE", DAY, 1)]

    def test_bad_sql_is_a_query_error(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1)])
        run_etl(lake.store, DAY)
        with pytest.raises(QueryError, match="syntax error"):
            lake.query().query("SELEC 1")
        with pytest.raises(QueryError, match="nope"):
            lake.query().query("SELECT nope FROM telegram")

    def test_no_data_yet_is_a_query_error(self, new_lake: NewLake) -> None:
        with pytest.raises(QueryError, match="no enriched data yet"):
            new_lake().query().query("SELECT 1")


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
        assert out.startswith(f"lake etl {DAY}: 3 raw files, 3 messages -> {lake_env}")
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
            "other_kinds": {},
            "quarantined": ["99.json"],
            "path": f"{lake_env}/enriched/telegram/context_date=2026-11-20/part-0.parquet",
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
