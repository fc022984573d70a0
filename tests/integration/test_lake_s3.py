"""The lake store, ETL and queries of test_lake_etl.py, and the real-traffic failures of
test_lake_traffic.py and test_lake_arrivals.py (webhook -> store -> ETL -> DuckDB), again on
S3: moto's server on loopback, reached through s3fs exactly as a real bucket would be
(``s3://bucket/prefix``)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import fsspec
import pytest

from tests.integration.s3 import moto_endpoint, s3_client
from tests.integration.test_lake_arrivals import (
    TestArrivalDay,
    TestDaysWrittenBefore,
    TestEventsOfKeptChats,
    TestLateDelivery,
    TestMidnight,
)
from tests.integration.test_lake_etl import (
    DAY,
    Lake,
    NewLake,
    TestEtlRows,
    TestParquetFile,
    TestQuarantine,
)
from tests.integration.test_lake_queries import TestNamedQueries
from tests.integration.test_lake_traffic import (
    TestEdits,
    TestMedia,
    TestMigration,
    TestSenders,
    TestServiceMessages,
)
from tests.integration.test_lake_traffic import _start as _start  # the webhook fixture
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.services.lake_etl import run_etl

BUCKET = "tgstat-lake"
NEXT_DAY = DAY + timedelta(days=1)
Options = dict[str, Any]
__all__ = [
    "TestArrivalDay",
    "TestDaysWrittenBefore",
    "TestEdits",
    "TestEtlRows",
    "TestEventsOfKeptChats",
    "TestLateDelivery",
    "TestMedia",
    "TestMidnight",
    "TestMigration",
    "TestNamedQueries",
    "TestParquetFile",
    "TestQuarantine",
    "TestSenders",
    "TestServiceMessages",
]


@pytest.fixture(name="s3_options", scope="module")
def _s3_options() -> Iterator[Options]:
    """Storage options of a fresh S3 endpoint on 127.0.0.1 with one empty bucket."""
    with moto_endpoint() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield {
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            "key": "x",
            "secret": "x",
        }


@pytest.fixture(name="new_lake", scope="module")
def _new_lake(s3_options: Options) -> NewLake:
    """Makes a lake under a fresh prefix of the bucket per call."""
    numbers = itertools.count()

    def make() -> Lake:
        root = f"{BUCKET}/lake-{next(numbers)}"
        return Lake(
            FsspecLakeStore(f"s3://{root}", **s3_options),
            fsspec.filesystem("s3", **s3_options),
            root,
            dict(s3_options),
        )

    return make


def a_raw_update(update_id: int) -> bytes:
    message = {"message_id": update_id, "date": 1795132800, "chat": {"id": -5, "type": "group"}}
    return json.dumps({"update_id": update_id, "message": message}).encode()


class TestLongLivedProcess:
    """A served flow or a notebook lives for days: S3 listings must not be cached across runs."""

    def test_query_sees_days_written_since(self, new_lake: NewLake, s3_options: Options) -> None:
        lake = new_lake()
        writer = FsspecLakeStore(f"s3://{lake.root}", skip_instance_cache=True, **s3_options)
        writer.put_raw(DAY, 1, a_raw_update(1))
        run_etl(writer, DAY)
        query = lake.query()
        assert query.query("SELECT count(*) FROM telegram")[1] == [(1,)]
        writer.put_raw(NEXT_DAY, 2, a_raw_update(2))
        run_etl(writer, NEXT_DAY)  # another process writes the next day
        assert query.query("SELECT count(*) FROM telegram")[1] == [(2,)]

    def test_rerun_sees_raw_files_written_since(
        self, new_lake: NewLake, s3_options: Options
    ) -> None:
        lake = new_lake()
        webhook = FsspecLakeStore(f"s3://{lake.root}", skip_instance_cache=True, **s3_options)
        webhook.put_raw(DAY, 1, a_raw_update(1))
        assert run_etl(lake.store, DAY).messages == 1
        webhook.put_raw(DAY, 2, a_raw_update(2))  # a late update, stored by the webhook
        assert run_etl(lake.store, DAY).messages == 2
