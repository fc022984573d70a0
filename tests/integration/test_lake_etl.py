"""The daily lake ETL and SQL over it, on real files (a fresh local lake root per example).

The store/ETL/query classes take their lake from the ``new_lake`` fixture; test_lake_s3.py
runs the same classes against S3 (moto's server on loopback) by overriding it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import attrs
import fsspec
import pyarrow.parquet as pq
import pytest
from fsspec.spec import AbstractFileSystem
from hypothesis import HealthCheck, given, settings

from tests.strategies import LAKE_DAY_START, update_lists
from tgstat.adapters.duckdb_query import DuckDbLakeQuery
from tgstat.adapters.fsspec_lake import EVENT_SCHEMA, SCHEMA, FsspecLakeStore
from tgstat.domain.lake_rows import flatten, to_event
from tgstat.ports.lake_query import EVENT_COLUMNS, TELEGRAM_COLUMNS
from tgstat.services.lake_etl import run_etl

DAY = datetime.fromtimestamp(LAKE_DAY_START, UTC).date()  # 2026-11-20
ATHENA_SQL = Path(__file__).parents[2] / "db" / "athena" / "telegram.sql"
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

    def enriched(self, day: date, table: str = "telegram") -> list[dict[str, Any]]:
        path = f"{self.root}/enriched/{table}/context_date={day.isoformat()}/part-0.parquet"
        with self.fs.open(path, "rb") as f:
            rows: list[dict[str, Any]] = pq.read_table(f).to_pylist()
            return rows

    def events(self, day: date) -> list[dict[str, Any]]:
        return self.enriched(day, "telegram_event")

    def query(self) -> DuckDbLakeQuery:
        return DuckDbLakeQuery(
            self.store.enriched_glob("telegram"),
            self.store.enriched_glob("telegram_event"),
            **self.options,
        )


NewLake = Callable[[], Lake]


@pytest.fixture(name="new_lake", scope="module")
def _new_lake(tmp_path_factory: pytest.TempPathFactory) -> NewLake:
    """Makes a fresh local lake root per call (hypothesis examples need their own)."""

    def make() -> Lake:
        root = tmp_path_factory.mktemp("lake")
        return Lake(FsspecLakeStore(str(root)), fsspec.filesystem("file"), str(root), {})

    return make


def store_updates(lake: Lake, day: date, updates: Sequence[Update]) -> None:
    for u in updates:
        assert lake.store.put_raw(day, u["update_id"], body_of(u))


def expected_rows(updates: Sequence[Update]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows the pure flattening gives (tested by hand in tests/unit), in file order:
    the ETL must keep them exactly through batching, Parquet and back."""
    messages, events = [], []
    for u in sorted(updates, key=lambda u: f"{u['update_id']}.json"):
        row = flatten(u)
        if row is not None:
            messages.append(attrs.asdict(row))
        else:
            events.append(attrs.asdict(to_event(u, body_of(u))))
    return messages, events


def body_of(update: Update) -> bytes:
    """The body an update is stored as: escaped or raw UTF-8, as senders differ."""
    return json.dumps(update, ensure_ascii=update["update_id"] % 2 == 0).encode()


def kinds_of(updates: Sequence[Update]) -> dict[str, int]:
    return dict(Counter(k for u in updates for k in u if k != "update_id"))


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
    """The day's Parquet holds one row per raw update: messages in ``telegram``, the rest
    in ``telegram_event``, with the values the flattening gives."""

    @EXAMPLES
    @given(update_lists())
    def test_rows_equal_the_raw_json(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        store_updates(lake, DAY, updates)
        report = run_etl(lake.store, DAY, batch_size=7)
        if not updates:
            assert (report.files, report.paths) == (0, None)
            assert lake.names("enriched", DAY) == []
            return
        messages, events = expected_rows(updates)
        assert lake.enriched(DAY) == messages
        assert lake.events(DAY) == events
        assert (report.files, report.messages, report.events) == (
            len(updates),
            len(messages),
            len(events),
        )
        assert report.kinds == kinds_of(updates)
        assert (report.malformed, report.skipped, report.quarantined) == (0, 0, ())

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
        assert (report.files, report.messages, report.events) == (1, 0, 1)
        assert report.kinds == {"poll": 1}
        assert lake.enriched(DAY) == []
        assert lake.events(DAY) == [
            {
                "update_id": 1,
                "kind": "poll",
                "chat_id": None,
                "user_id": None,
                "date": None,
                "raw_update": '{"update_id": 1, "poll": {"id": "5"}}',
            }
        ]

    def test_a_day_without_raw_files_writes_nothing(self, new_lake: NewLake) -> None:
        lake = new_lake()
        report = run_etl(lake.store, DAY)
        assert (report.files, report.messages, report.paths) == (0, 0, None)
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

    def test_update_id_beyond_int64_is_quarantined(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1)])
        lake.store.put_raw(DAY, 2**63, b'{"update_id": 9223372036854775808, "poll": {}}')
        report = run_etl(lake.store, DAY)
        assert (report.messages, report.events) == (1, 0)
        assert report.quarantined == ("9223372036854775808.json",)

    def test_unstorable_messages_become_events(self, new_lake: NewLake) -> None:
        """A message Parquet cannot hold as a row is kept in telegram_event, not dropped."""
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
        assert (report.messages, report.events, report.malformed) == (1, 4, 4)
        assert report.kinds == {"message": 5}
        assert report.quarantined == ()
        assert [r["message_id"] for r in lake.enriched(DAY)] == [1]
        assert [
            (e["update_id"], e["kind"], e["chat_id"], e["user_id"], e["date"])
            for e in lake.events(DAY)
        ] == [
            (2, "message", -100123, 7, LAKE_DAY_START + 2),
            (3, "message", None, 7, LAKE_DAY_START + 3),
            (4, "message", None, None, None),
            (5, "message", -100123, 7, LAKE_DAY_START + 5),
        ]
        assert json.loads(lake.events(DAY)[3]["raw_update"])["message"]["text"] == "\ud800 lone"


class TestParquetFile:
    """The file has the explicit schema, zstd pages, and ignores unfinished raw files."""

    def test_schema_and_compression(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(
            lake, DAY, [a_message(1), a_message(2, text=None), {"update_id": 3, "poll": {}}]
        )
        run_etl(lake.store, DAY)
        for table, schema in (("telegram", SCHEMA), ("telegram_event", EVENT_SCHEMA)):
            path = f"{lake.root}/enriched/{table}/context_date={DAY}/part-0.parquet"
            with lake.fs.open(path, "rb") as f:
                parquet = pq.ParquetFile(f)
                assert parquet.schema_arrow == schema
                meta = parquet.metadata
                chunks = [
                    meta.row_group(g).column(c)
                    for g in range(meta.num_row_groups)
                    for c in range(meta.num_columns)
                ]
            assert chunks
            assert {c.compression for c in chunks} == {"ZSTD"}

    def test_the_sql_columns_are_the_parquet_columns(self) -> None:
        """The query port's column lists and the store's Arrow schemas agree."""
        sql_type = {"int64": "BIGINT", "string": "VARCHAR", "bool": "BOOLEAN"}
        for columns, schema in ((TELEGRAM_COLUMNS, SCHEMA), (EVENT_COLUMNS, EVENT_SCHEMA)):
            assert list(columns) == [(f.name, sql_type[str(f.type)]) for f in schema]
        assert [name for name, _ in TELEGRAM_COLUMNS[:8]] == [
            "message_id",
            "user_id",
            "user_is_bot",
            "user_first_name",
            "chat_id",
            "chat_type",
            "text",
            "date",
        ]  # the reference design's columns first, unchanged

    def test_dot_temp_raw_files_are_ignored(self, new_lake: NewLake) -> None:
        lake = new_lake()
        store_updates(lake, DAY, [a_message(1)])
        partial = f"{lake.dir('raw', DAY)}/.2.json.5f1c.tmp"
        lake.fs.pipe_file(partial, b'{"update_id": 2, "mess')  # a crash before the rename
        report = run_etl(lake.store, DAY)
        assert (report.files, report.messages, report.quarantined) == (1, 1, ())
        assert lake.names("quarantine", DAY) == []
