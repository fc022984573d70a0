"""Real group traffic through the lake (issue 11, failures 6-9): updates that are not
messages, arrival days, retries across midnight, late deliveries; raw days written before
the arrival-day rule; and properties over every documented kind and any arrival order.

Over real HTTP into the real webhook, then the real ETL and DuckDB (see
test_lake_traffic.py); test_lake_s3.py runs the failure classes again on S3.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_lake_etl import Lake, NewLake
from tests.integration.test_lake_etl import _new_lake as _new_lake  # the fixture
from tests.integration.test_lake_traffic import (
    ANN,
    BOB,
    DAY,
    GROUP,
    NOON,
    Start,
    T,
    said,
)
from tests.integration.test_lake_traffic import _start as _start  # the fixture
from tests.strategies import update_lists
from tgstat.adapters.fsspec_lake import SCHEMA
from tgstat.ports.lake_query import NAMED_QUERIES
from tgstat.services.lake_etl import run_etl

Update = dict[str, Any]
ELSEWHERE = {"id": -1009000000000, "type": "supergroup", "title": "Other"}
EVENT_SQL = "SELECT context_date, update_id, kind, chat_id, user_id, date FROM telegram_event"


class TestEventsOfKeptChats:
    """6. Reactions, boosts and member changes of a kept chat are stored (the filter finds
    the chat wherever the update carries it) and reach SQL as telegram_event rows."""

    def test_kept_and_flattened(self, start: Start) -> None:
        traffic = start(chat_ids=frozenset({GROUP["id"]}))
        emoji = {"type": "emoji", "emoji": "👍"}
        boost = {"boost_id": "b1", "add_date": T - 9, "expiration_date": T + 86400}
        member = {"status": "member", "user": BOB}
        answers = traffic.post(
            {
                "update_id": 1,
                "message_reaction": {"chat": GROUP, "message_id": 10, "user": ANN, "date": T}
                | {"old_reaction": [], "new_reaction": [emoji]},
            },
            {
                "update_id": 2,
                "message_reaction_count": {"chat": GROUP, "message_id": 10, "date": T + 1}
                | {"reactions": [{"type": emoji, "total_count": 4}]},
            },
            {
                "update_id": 3,
                "chat_boost": {
                    "chat": GROUP,
                    "boost": boost | {"source": {"source": "premium", "user": BOB}},
                },
            },
            {
                "update_id": 4,
                "removed_chat_boost": {"chat": GROUP, "boost_id": "b0", "remove_date": T + 2}
                | {"source": {"source": "gift_code", "user": ANN}},
            },
            {
                "update_id": 5,
                "chat_member": {"chat": GROUP, "from": ANN, "date": T + 3}
                | {"old_chat_member": member | {"status": "left"}, "new_chat_member": member},
            },
            {
                "update_id": 6,
                "chat_join_request": {"chat": GROUP, "from": BOB, "user_chat_id": 222}
                | {"date": T + 4},
            },
            {
                "update_id": 7,
                "message_reaction": {"chat": ELSEWHERE, "message_id": 1, "user": ANN}
                | {"date": T, "old_reaction": [], "new_reaction": [emoji]},
            },
        )
        assert [a["stored"] for a in answers] == [True] * 6 + [False]
        assert traffic.stats()["dropped_by_kind"] == {"message_reaction": 1}
        report = traffic.etl()
        assert (report.messages, report.events) == (0, 6)
        assert traffic.sql(f"{EVENT_SQL} ORDER BY 2") == [
            (DAY, 1, "message_reaction", GROUP["id"], 111, T),
            (DAY, 2, "message_reaction_count", GROUP["id"], None, T + 1),
            (DAY, 3, "chat_boost", GROUP["id"], 222, T - 9),
            (DAY, 4, "removed_chat_boost", GROUP["id"], 111, T + 2),
            (DAY, 5, "chat_member", GROUP["id"], 222, T + 3),
            (DAY, 6, "chat_join_request", GROUP["id"], 222, T + 4),
        ]
        (raw,) = traffic.sql("SELECT raw_update FROM telegram_event WHERE update_id = 1")[0]
        assert json.loads(raw)["message_reaction"]["new_reaction"] == [emoji]


class TestArrivalDay:
    """7. An update is filed under the day it arrived on: a button under a message of date 0
    (inaccessible) or two years old is no reason to file it under 1970 or 2024."""

    def test_button_presses(self, start: Start) -> None:
        traffic = start()
        old = int(datetime(2024, 11, 3, 9, tzinfo=UTC).timestamp())
        traffic.post(
            {
                "update_id": 1,
                "callback_query": {"id": "71", "from": ANN, "chat_instance": "-84", "data": "yes"}
                | {"message": {"message_id": 3, "date": 0, "chat": GROUP}},
            },
            {
                "update_id": 2,
                "callback_query": {"id": "72", "from": BOB, "chat_instance": "-84", "data": "no"}
                | {"message": {"message_id": 4, "date": old, "chat": GROUP, "text": "vote"}},
            },
        )
        assert traffic.lake.names("raw", date(1970, 1, 1)) == []
        assert traffic.lake.names("raw", date(2024, 11, 3)) == []
        assert traffic.lake.names("raw", DAY) == ["1.json", "2.json"]
        traffic.etl()
        assert traffic.sql(f"{EVENT_SQL} ORDER BY 2") == [
            (DAY, 1, "callback_query", GROUP["id"], 111, None),
            (DAY, 2, "callback_query", GROUP["id"], 222, None),
        ]


class TestMidnight:
    """8. A retry that crosses midnight is stored in both days and flattened once."""

    def test_retry_flattened_once(self, start: Start) -> None:
        traffic = start()
        joined = {
            "update_id": 1,
            "chat_member": {"chat": GROUP, "from": BOB, "date": T}
            | {"old_chat_member": {"status": "left", "user": BOB}}
            | {"new_chat_member": {"status": "member", "user": BOB}},
        }
        hello = said(2, 50, BOB, text="hello")
        before = datetime(2026, 11, 20, 23, 59, 59, 900_000, tzinfo=UTC)
        traffic.post(joined, hello, at=before)
        traffic.post(joined, hello, at=before + timedelta(seconds=1))  # Telegram retries
        nextday = DAY + timedelta(days=1)
        assert traffic.lake.names("raw", DAY) == traffic.lake.names("raw", nextday)
        first, second = traffic.etl(DAY), traffic.etl(nextday)
        assert (first.messages, first.events, first.skipped) == (1, 1, 0)
        assert (second.messages, second.events, second.skipped) == (0, 0, 2)
        assert traffic.sql(f"{EVENT_SQL}") == [(DAY, 1, "chat_member", GROUP["id"], 222, T)]
        assert traffic.sql("SELECT context_date, update_id FROM telegram") == [(DAY, 2)]


class TestLateDelivery:
    """9. A message delivered after its day's ETL ran is in the next day's partition (the day
    it arrived), with its own ``date``: nothing waits for a re-run."""

    def test_next_day_partition(self, start: Start) -> None:
        traffic = start()
        evening = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
        traffic.post(said(1, 60, ANN, text="first", at=int(evening.timestamp())), at=evening)
        assert traffic.etl(DAY).messages == 1  # the daily run, at 00:15
        sent = int(datetime(2026, 11, 20, 23, 59, 50, tzinfo=UTC).timestamp())
        late = datetime(2026, 11, 21, 0, 20, tzinfo=UTC)
        traffic.post(said(2, 61, BOB, text="late", at=sent), at=late)
        assert traffic.etl(late.date()).messages == 1  # the next daily run
        assert traffic.sql("SELECT context_date, message_id, date FROM messages ORDER BY 2") == [
            (DAY, 60, int(evening.timestamp())),
            (late.date(), 61, sent),
        ]
        assert traffic.sql(NAMED_QUERIES["messages-per-user-day"]) == [
            (DAY, 111, "Ann", 1),
            (late.date(), 222, "Bob", 1),
        ]


class TestDaysWrittenBefore:
    """Raw days filed by message date (the old rule) still flatten; enriched days of the
    old 8-column schema are still read, new columns NULL."""

    def test_old_raw_day(self, new_lake: NewLake) -> None:
        lake = new_lake()
        old_day = date(2026, 11, 1)
        at = int(datetime(2026, 11, 1, 10, tzinfo=UTC).timestamp())
        for update in (said(7, 1, ANN, at=at, text="a"), said(8, 2, BOB, at=at, text="b")):
            lake.store.put_raw(old_day, update["update_id"], json.dumps(update).encode())
        assert run_etl(lake.store, old_day).messages == 2
        assert lake.query().query(NAMED_QUERIES["messages-per-user-day"])[1] == [
            (old_day, 111, "Ann", 1),
            (old_day, 222, "Bob", 1),
        ]

    def test_old_parquet_day(self, start: Start) -> None:
        traffic = start()
        traffic.post(said(1, 70, ANN, text="new"))
        traffic.etl()
        old = pa.Table.from_pylist(
            [
                {"message_id": 5, "user_id": 222, "user_is_bot": False, "user_first_name": "Bob"}
                | {"chat_id": -4001, "chat_type": "group", "text": "old", "date": T - 86400 * 19}
            ],
            schema=pa.schema(list(SCHEMA)[:8]),
        )
        lake = traffic.lake
        path = f"{lake.root}/enriched/telegram/context_date=2026-11-01/part-0.parquet"
        lake.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with lake.fs.open(path, "wb") as out:
            pq.write_table(old, out)
        assert traffic.sql(
            "SELECT context_date, message_id, text, update_id, is_service FROM messages ORDER BY 1"
        ) == [(date(2026, 11, 1), 5, "old", None, None), (DAY, 70, "new", 1, False)]


def rows(lake: Lake, days: list[date]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both tables' rows over ``days``, by update_id."""
    found: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for day in days:
        if lake.names("enriched", day):
            found[0].extend(lake.enriched(day))
            found[1].extend(lake.events(day))
    return (
        sorted(found[0], key=lambda r: r["update_id"]),
        sorted(found[1], key=lambda r: r["update_id"]),
    )


PROPERTIES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@attrs.frozen
class Arrival:
    """An order of delivery: a permutation, the position where midnight falls, and the
    updates of the first day Telegram delivers again after it."""

    order: list[int]
    midnight: int
    retried: list[int]


@st.composite
def arrivals(draw: st.DrawFn, n: int) -> Arrival:
    order = draw(st.permutations(range(n)))
    midnight = draw(st.integers(0, n))
    retried = draw(st.lists(st.sampled_from(order[:midnight]), unique=True)) if midnight else []
    return Arrival(order, midnight, retried)


class TestProperties:
    """Any documented update is stored once and flattened without error; the rows over
    the days are the same whatever the arrival order, retries across midnight included."""

    @PROPERTIES
    @given(update_lists(max_size=15).filter(bool), st.data())
    def test_stored_once_and_flattened(
        self, start: Start, updates: list[Update], data: st.DataObject
    ) -> None:
        traffic = start()
        traffic.post(*updates, *updates)  # every update delivered twice
        names = sorted(f"{u['update_id']}.json" for u in updates)
        assert traffic.lake.names("raw", DAY) == names
        report = traffic.etl()
        assert (report.files, report.messages + report.events) == (len(updates), len(updates))
        assert (report.malformed, report.quarantined) == (0, ())
        messages, events = rows(traffic.lake, [DAY])
        ids = sorted(r["update_id"] for r in messages + events)
        assert ids == sorted(u["update_id"] for u in updates)
        arrival = data.draw(arrivals(len(updates)))
        reordered = start()
        first = [updates[i] for i in arrival.order[: arrival.midnight]]
        second = [updates[i] for i in arrival.order[arrival.midnight :]]
        reordered.post(*first, at=NOON)
        reordered.post(*second, *(updates[i] for i in arrival.retried), at=NOON + timedelta(1))
        days = [DAY, DAY + timedelta(days=1)]
        for day in days:
            reordered.etl(day)
        assert rows(reordered.lake, days) == (messages, events)
