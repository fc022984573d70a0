"""Real group traffic through the lake (issue 11, failures 1-5): updates shaped like those of
public bug reports of Bot API pipelines (invented names and ids), posted over real HTTP to
the real webhook, flattened by the real ETL, read back with DuckDB; expected rows by hand.

The lake comes from ``new_lake`` (test_lake_etl.py): a local directory here, S3 (moto) when
test_lake_s3.py runs these classes again.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import attrs
import httpx
import pytest

from tests.integration.http import serving
from tests.integration.test_lake_etl import Lake, NewLake
from tests.integration.test_lake_etl import _new_lake as _new_lake  # the fixture
from tgstat.adapters.starlette_webhook import SECRET_HEADER, create_app
from tgstat.ports.lake_query import NAMED_QUERIES
from tgstat.services.lake_etl import EtlReport, run_etl

SECRET = "traffic-secret"
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = NOON.date()
T = int(NOON.timestamp())
GROUP = {"id": -1001500000001, "type": "supergroup", "title": "Lake Lovers", "is_forum": True}
CHANNEL = {"id": -1001500000002, "type": "channel", "title": "Lake News"}
ANN = {"id": 111, "is_bot": False, "first_name": "Ann", "username": "ann_l", "language_code": "en"}
BOB = {"id": 222, "is_bot": False, "first_name": "Bob", "is_premium": True}
GROUP_ANONYMOUS_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
TELEGRAM = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
Update = dict[str, Any]


def said(
    update_id: int,
    message_id: int,
    sender: dict[str, Any] | None = ANN,
    *,
    kind: str = "message",
    chat: dict[str, Any] = GROUP,
    at: int = T,
    **fields: Any,
) -> Update:
    """A message update; ``fields`` are added to the Message as given."""
    message: dict[str, Any] = {"message_id": message_id, "date": at, "chat": chat}
    if sender is not None:
        message["from"] = sender
    return {"update_id": update_id, kind: message | fields}


@attrs.define
class Clock:
    """The webhook's clock: the time each update arrives."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@attrs.frozen
class Traffic:
    """A webhook over a lake, a clock to set arrival times, and the lake's SQL."""

    lake: Lake
    url: str
    clock: Clock

    def post(self, *updates: Update, at: datetime | None = None) -> list[dict[str, Any]]:
        """Deliver ``updates`` as Telegram does (arriving ``at``); every answer must be 200."""
        if at is not None:
            self.clock.now = at
        answers = []
        for update in updates:
            response = httpx.post(
                f"{self.url}/telegram/webhook",
                content=json.dumps(update, ensure_ascii=False).encode(),
                headers={SECRET_HEADER: SECRET},
            )
            assert response.status_code == 200, response.text
            answers.append(response.json())
        return answers

    def etl(self, day: date = DAY) -> EtlReport:
        return run_etl(self.lake.store, day)

    def sql(self, sql: str) -> list[tuple[Any, ...]]:
        return self.lake.query().query(sql)[1]

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/telegram/stats", headers={SECRET_HEADER: SECRET})
        stats: dict[str, Any] = response.json()
        return stats


Start = Callable[..., Traffic]


@pytest.fixture(name="start")
def _start(new_lake: NewLake) -> Iterator[Start]:
    """Starts a webhook (chat filter, zone, lake to taste: a fresh lake by default)."""
    with contextlib.ExitStack() as stack:

        def start(
            chat_ids: frozenset[int] | None = None, lake: Lake | None = None, zone: tzinfo = UTC
        ) -> Traffic:
            lake = lake if lake is not None else new_lake()
            clock = Clock(NOON)
            app = create_app(
                lake.store, secret_token=SECRET, zone=zone, chat_ids=chat_ids, clock=clock
            )
            return Traffic(lake, stack.enter_context(serving(app)), clock)

        yield start


class TestSenders:
    """1. Messages a chat sent (anonymous admin, a channel, automatic forwards of the linked
    channel) belong to that chat, not to a user: user_* NULL, sender_chat_* set."""

    def test_chats_are_not_users(self, start: Start) -> None:
        traffic = start()
        origin = {"type": "channel", "chat": CHANNEL, "date": T - 5}
        traffic.post(
            said(1, 10, ANN, text="hello"),
            said(2, 11, GROUP_ANONYMOUS_BOT, sender_chat=GROUP, text="rules", author_signature="m"),
            said(3, 12, CHANNEL_BOT, sender_chat=CHANNEL, text="from the channel"),
            *(
                said(
                    4 + i,
                    13 + i,
                    TELEGRAM,
                    sender_chat=CHANNEL,
                    is_automatic_forward=True,
                    forward_origin=origin | {"message_id": 50 + i},
                    text=f"post {i}",
                )
                for i in range(3)
            ),
        )
        assert traffic.etl().messages == 6
        assert traffic.sql(
            "SELECT message_id, user_id, user_is_bot, user_first_name, sender_chat_id,"
            " sender_chat_type, is_automatic_forward, forward_origin_type, forward_origin_id"
            " FROM telegram ORDER BY message_id"
        ) == [
            (10, 111, False, "Ann", None, None, False, None, None),
            (11, None, None, None, -1001500000001, "supergroup", False, None, None),
            (12, None, None, None, -1001500000002, "channel", False, None, None),
            (13, None, None, None, -1001500000002, "channel", True, "channel", -1001500000002),
            (14, None, None, None, -1001500000002, "channel", True, "channel", -1001500000002),
            (15, None, None, None, -1001500000002, "channel", True, "channel", -1001500000002),
        ]
        assert traffic.sql(NAMED_QUERIES["messages-per-user-day"]) == [(DAY, 111, "Ann", 1)]


class TestServiceMessages:
    """2. Joins, leaves, pins, title changes, topics are rows with is_service and their
    content_type, and no one's messages."""

    def test_one_text_is_one_message(self, start: Start) -> None:
        traffic = start()
        pinned = {"message_id": 21, "date": T, "chat": GROUP, "from": ANN, "text": "hi all"}
        topic = {"name": "Trips", "icon_color": 7322096}
        traffic.post(
            said(1, 20, ANN, new_chat_members=[ANN]),
            said(2, 21, ANN, text="hi all"),
            said(3, 22, ANN, pinned_message=pinned),
            said(4, 23, ANN, new_chat_title="Lake Lovers 2"),
            said(5, 24, ANN, message_thread_id=24, forum_topic_created=topic),
            said(6, 25, ANN, left_chat_member=ANN),
        )
        traffic.etl()
        assert traffic.sql(
            "SELECT message_id, content_type, is_service, text, user_id FROM telegram ORDER BY 1"
        ) == [
            (20, "new_chat_members", True, None, 111),
            (21, "text", False, "hi all", 111),
            (22, "pinned_message", True, None, 111),
            (23, "new_chat_title", True, None, 111),
            (24, "forum_topic_created", True, None, 111),
            (25, "left_chat_member", True, None, 111),
        ]
        assert traffic.sql(NAMED_QUERIES["messages-per-user-day"]) == [(DAY, 111, "Ann", 1)]
        assert traffic.sql("SELECT message_id FROM messages") == [(21,)]


class TestEdits:
    """3. An edit is a row of its own with edit_date; ``messages`` shows the latest text,
    counted once, on the day the message first arrived."""

    def test_latest_version_counts_once(self, start: Start) -> None:
        traffic = start()
        traffic.post(said(1, 30, ANN, text="teh plan"))
        traffic.post(
            said(2, 30, ANN, kind="edited_message", text="the plan", edit_date=T + 3600),
            at=NOON + timedelta(hours=1),
        )
        tomorrow = NOON + timedelta(hours=21)
        traffic.post(
            said(3, 30, ANN, kind="edited_message", text="the final plan", edit_date=T + 75600),
            at=tomorrow,
        )
        traffic.etl(DAY)
        traffic.etl(tomorrow.date())
        assert traffic.sql(
            "SELECT context_date, update_id, update_kind, text, edit_date FROM telegram ORDER BY 2"
        ) == [
            (DAY, 1, "message", "teh plan", None),
            (DAY, 2, "edited_message", "the plan", T + 3600),
            (tomorrow.date(), 3, "edited_message", "the final plan", T + 75600),
        ]
        assert traffic.sql("SELECT context_date, message_id, text, edit_date FROM messages") == [
            (DAY, 30, "the final plan", T + 75600)
        ]
        assert traffic.sql(NAMED_QUERIES["messages-per-user-day"]) == [(DAY, 111, "Ann", 1)]
        assert traffic.sql(NAMED_QUERIES["avg-length-per-user-day"]) == [(DAY, 111, 14.0, 1)]


class TestMedia:
    """4. Captions, media kinds, albums, replies, forum topics and forward origins."""

    def test_columns(self, start: Start) -> None:
        traffic = start()
        photo = [{"file_id": "AgACAgIAAx1", "file_unique_id": "AQADx", "width": 90, "height": 60}]
        doc = {"file_id": "BQACAgIAAx", "file_unique_id": "AgADBQ", "file_name": "map.pdf"}
        video = {"file_id": "BAACAgIAAx", "file_unique_id": "AgADBA", "duration": 9}
        traffic.post(
            said(1, 40, ANN, photo=photo, caption="our trip", media_group_id="13579"),
            said(2, 41, ANN, photo=photo, media_group_id="13579"),
            said(3, 42, BOB, document=doc, caption="the map"),
            said(
                4,
                43,
                BOB,
                video=video,
                caption="look",
                message_thread_id=24,
                is_topic_message=True,
                reply_to_message={"message_id": 40, "date": T, "chat": GROUP, "from": ANN},
            ),
            said(
                5,
                44,
                ANN,
                text="in the topic",
                message_thread_id=24,
                is_topic_message=True,
                reply_to_message={"message_id": 24, "date": T, "chat": GROUP, "from": ANN}
                | {"forum_topic_created": {"name": "Trips", "icon_color": 7322096}},
            ),
            said(
                6,
                45,
                BOB,
                text="fwd",
                forward_origin={"type": "user", "date": T - 99} | {"sender_user": ANN},
            ),
            said(
                7,
                46,
                BOB,
                text="fwd",
                forward_origin={"type": "hidden_user", "date": T - 98}
                | {"sender_user_name": "Zed"},
            ),
        )
        traffic.etl()
        assert traffic.sql(
            "SELECT message_id, content_type, text, caption, media_group_id, reply_to_message_id,"
            " message_thread_id, is_topic_message, forward_origin_type, forward_origin_id,"
            " forward_date, user_is_premium FROM telegram ORDER BY 1"
        ) == [
            (40, "photo", None, "our trip", "13579", None, None, False, None, None, None, False),
            (41, "photo", None, None, "13579", None, None, False, None, None, None, False),
            (42, "document", None, "the map", None, None, None, False, None, None, None, True),
            (43, "video", None, "look", None, 40, 24, True, None, None, None, True),
            (44, "text", "in the topic", None, None, None, 24, True, None, None, None, False),
            (45, "text", "fwd", None, None, None, None, False, "user", 111, T - 99, True),
            (46, "text", "fwd", None, None, None, None, False, "hidden_user", None, T - 98, True),
        ]


OLD = {"id": -4001, "type": "group", "title": "Lake Lovers"}
NEW = {"id": -1004001, "type": "supergroup", "title": "Lake Lovers"}
ELSEWHERE = {"id": -4002, "type": "group", "title": "Other"}


class TestMigration:
    """5. A kept group that becomes a supergroup stays kept under its new id, across
    restarts; a dropped update is logged and counted."""

    def test_the_new_id_is_kept_and_remembered(
        self, start: Start, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING)
        traffic = start(chat_ids=frozenset({-4001}))
        answers = traffic.post(
            said(1, 1, ANN, chat=OLD, text="before"),
            said(2, 2, ANN, chat=OLD, migrate_to_chat_id=-1004001),
            said(3, 1, ANN, chat=NEW, migrate_from_chat_id=-4001),
            said(4, 2, ANN, chat=NEW, text="after"),
            said(5, 9, BOB, chat=ELSEWHERE, text="not ours"),
        )
        assert [a["stored"] for a in answers] == [True, True, True, True, False]
        assert "update 5 dropped: message from chat -4002, not a kept chat" in caplog.text
        assert "chat -4001 migrated to -1004001" in caplog.text
        stats = traffic.stats()
        assert (stats["stored"], stats["dropped"], stats["kept_chats"]) == (
            4,
            1,
            [-1004001, -4001],
        )

        restarted = start(chat_ids=frozenset({-4001}), lake=traffic.lake)
        assert restarted.post(said(6, 3, BOB, chat=NEW, text="next day")) == [
            {"ok": True, "stored": True}
        ]
        assert restarted.stats()["migrations"] == {"-4001": -1004001}
        traffic.etl()
        assert traffic.sql(
            "SELECT update_id, chat_id, content_type, migrate_to_chat_id, migrate_from_chat_id"
            " FROM telegram ORDER BY 1"
        ) == [
            (1, -4001, "text", None, None),
            (2, -4001, "migrate_to_chat_id", -1004001, None),
            (3, -1004001, "migrate_from_chat_id", None, -4001),
            (4, -1004001, "text", None, None),
            (6, -1004001, "text", None, None),
        ]

    def test_the_supergroup_notice_first(self, start: Start) -> None:
        """Telegram may deliver the new supergroup's notice before the old group's."""
        traffic = start(chat_ids=frozenset({-4001}))
        answers = traffic.post(
            said(1, 1, ANN, chat=NEW, migrate_from_chat_id=-4001),
            said(2, 2, BOB, chat=NEW, text="first in the supergroup"),
        )
        assert [a["stored"] for a in answers] == [True, True]
