"""The reference queries over the ``messages`` view, on real files (a fresh lake per
example; test_lake_s3.py runs them again on S3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import fmean
from typing import Any

import pytest
from hypothesis import given

from tests.integration.test_lake_etl import (
    DAY,
    EXAMPLES,
    Lake,
    NewLake,
    Update,
    a_message,
    store_updates,
)
from tests.integration.test_lake_etl import _new_lake as _new_lake  # the fixture
from tests.strategies import MESSAGE_KINDS, SERVICE_CONTENT, update_lists
from tgstat.adapters.duckdb_query import NAMED_QUERIES
from tgstat.ports.lake_query import QueryError
from tgstat.services.lake_etl import run_etl

PLACEHOLDER_IDS = {1087968824, 136817688, 777000}
FAMILY = {"business_message": 1, "edited_business_message": 1, "guest_message": 2}


def arrival_day(update: Update) -> date:
    """The day each generated update is taken to arrive on: spread over three days."""
    return DAY + timedelta(days=update["update_id"] % 3)


def person(message: dict[str, Any]) -> dict[str, Any] | None:
    """The person who sent ``message``: not a chat's placeholder, not a bot."""
    sender = message.get("from")
    if sender is None or sender["id"] in PLACEHOLDER_IDS or sender["is_bot"]:
        return None
    if "sender_chat" in message and message["chat"]["type"] != "channel":
        return None
    return sender


def by_user_day(updates: Sequence[Update]) -> dict[tuple[date, int], list[dict[str, Any]]]:
    """The ``messages`` view computed here: each message's latest version, on the day it
    first arrived, service messages out; then grouped by day and person."""
    versions: dict[tuple[Any, ...], list[tuple[date, int, dict[str, Any]]]] = defaultdict(list)
    for u in updates:
        ((kind, m),) = ((k, v) for k, v in u.items() if k != "update_id")
        if kind not in MESSAGE_KINDS:
            continue
        key = (m["chat"]["id"], m["message_id"], FAMILY.get(kind, 0))
        versions[key].append((arrival_day(u), u["update_id"], m))
    groups: dict[tuple[date, int], list[dict[str, Any]]] = defaultdict(list)
    for found in versions.values():
        first = min(day for day, _, _ in found)
        _, _, latest = max(found, key=lambda v: (v[2].get("edit_date", 0), v[1], v[0]))
        sender = person(latest)
        if sender is not None and not SERVICE_CONTENT.keys() & latest.keys():
            groups[(first, sender["id"])].append(latest)
    return dict(sorted(groups.items()))


def etl_all_days(lake: Lake, updates: Sequence[Update]) -> None:
    """Store each update under its arrival day, then flatten every day."""
    days = defaultdict(list)
    for u in updates:
        days[arrival_day(u)].append(u)
    for day, todays in days.items():
        store_updates(lake, day, todays)
        run_etl(lake.store, day)


class TestNamedQueries:
    """The reference queries give the values computed here from the raw updates."""

    @EXAMPLES
    @given(update_lists(max_size=80).filter(by_user_day))
    def test_messages_per_user_day(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        etl_all_days(lake, updates)
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
    @given(update_lists(max_size=80).filter(by_user_day))
    def test_avg_length_per_user_day(self, new_lake: NewLake, updates: list[Update]) -> None:
        lake = new_lake()
        etl_all_days(lake, updates)
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
