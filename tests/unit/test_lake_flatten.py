"""Flattening Bot API updates into lake rows, and which day and chat an update belongs to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import bot_updates
from tgstat.domain.lake import FlatMessage, chat_id_of, flatten, partition_day, update_kind

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
ARRIVED = datetime(2026, 11, 21, 12, tzinfo=UTC)


class TestFlattenProperties:
    """flatten gives one row per ``message`` update, with the values Telegram sent."""

    @given(bot_updates())
    def test_a_row_only_for_message_updates(self, update: dict[str, Any]) -> None:
        row = flatten(update)
        assert (row is not None) == ("message" in update)

    @given(bot_updates())
    def test_values_come_from_the_message(self, update: dict[str, Any]) -> None:
        row = flatten(update)
        if row is None:
            return
        message = update["message"]
        assert row.message_id == message["message_id"]
        assert row.chat_id == message["chat"]["id"]
        assert row.chat_type == message["chat"]["type"]
        assert row.date == message["date"]  # Unix seconds, unchanged
        assert row.text == message.get("text")  # a caption is not text

    @given(bot_updates(kinds=["photo", "sticker", "sender_chat"]))
    def test_no_text_for_media_even_with_a_caption(self, update: dict[str, Any]) -> None:
        row = flatten(update)
        assert row is not None
        assert row.text == update["message"].get("text")
        if "text" not in update["message"]:
            assert row.text is None

    @given(bot_updates(kinds=["sender_chat"]))
    def test_user_columns_are_null_without_from(self, update: dict[str, Any]) -> None:
        row = flatten(update)
        assert row is not None
        assert (row.user_id, row.user_is_bot, row.user_first_name) == (None, None, None)

    @given(bot_updates(kinds=["text", "photo", "sticker"]))
    def test_user_columns_from_the_sender(self, update: dict[str, Any]) -> None:
        row = flatten(update)
        sender = update["message"]["from"]
        assert row is not None
        assert (row.user_id, row.user_is_bot, row.user_first_name) == (
            sender["id"],
            sender["is_bot"],
            sender["first_name"],
        )

    @given(st.dictionaries(st.text(), JSON), JSON)
    def test_never_raises_on_any_json_object(self, update: dict[str, Any], message: Any) -> None:
        flatten(update)
        flatten({"update_id": 1, "message": message})


class TestFlattenExamples:
    """Hand-written updates, including the malformed ones the webhook may still store."""

    def test_text_message(self) -> None:
        update = {
            "update_id": 10,
            "message": {
                "message_id": 5,
                "from": {"id": 7, "is_bot": False, "first_name": "Ann"},
                "chat": {"id": -100123, "type": "supergroup", "title": "G"},
                "date": 1795132800,
                "text": "héllo 👍🏽",
            },
        }
        assert flatten(update) == FlatMessage(
            5, 7, False, "Ann", -100123, "supergroup", "héllo 👍🏽", 1795132800
        )

    def test_message_without_a_chat_id_gives_no_row(self) -> None:
        update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {}}}
        assert flatten(update) is None

    def test_boolean_ids_are_not_ids(self) -> None:
        update = {"update_id": 1, "message": {"message_id": True, "date": 1, "chat": {"id": 1}}}
        assert flatten(update) is None


class TestUpdateKind:
    """update_kind names the one field next to ``update_id``."""

    @given(bot_updates())
    def test_generated(self, update: dict[str, Any]) -> None:
        (expected,) = set(update) - {"update_id"}
        assert update_kind(update) == expected

    def test_none_or_several_fields_are_unknown(self) -> None:
        assert update_kind({"update_id": 1}) == "unknown"
        assert update_kind({"update_id": 1, "message": {}, "poll": {}}) == "unknown"


class TestPartitionDay:
    """An update belongs to the lake-zone day of its message's date, else of its arrival."""

    def test_message_date_in_the_lake_zone(self) -> None:
        update = {"update_id": 1, "message": {"date": 1795132800 - 3600}}  # 2026-11-19 23:00Z
        assert partition_day(update, ARRIVED, UTC) == date(2026, 11, 19)
        assert partition_day(update, ARRIVED, ZoneInfo("Europe/Berlin")) == date(2026, 11, 20)

    def test_edited_and_callback_messages_count(self) -> None:
        edited = {"update_id": 1, "edited_message": {"date": 1795132800}}
        callback = {"update_id": 2, "callback_query": {"message": {"date": 1795132800}}}
        assert partition_day(edited, ARRIVED, UTC) == date(2026, 11, 20)
        assert partition_day(callback, ARRIVED, UTC) == date(2026, 11, 20)

    def test_arrival_without_a_message_date(self) -> None:
        member = {"update_id": 1, "my_chat_member": {"date": 1795132800}}
        assert partition_day(member, ARRIVED, UTC) == date(2026, 11, 21)
        assert partition_day({"update_id": 2, "message": {"date": "x"}}, ARRIVED, UTC) == date(
            2026, 11, 21
        )


class TestChatIdOf:
    """chat_id_of finds the chat for the webhook's filter."""

    @given(bot_updates())
    def test_generated(self, update: dict[str, Any]) -> None:
        (payload,) = (v for k, v in update.items() if k != "update_id")
        chat = payload["message"]["chat"] if "callback_query" in update else payload["chat"]
        assert chat_id_of(update) == chat["id"]

    def test_none_without_a_chat(self) -> None:
        assert chat_id_of({"update_id": 1, "poll": {"id": "1"}}) is None
        assert chat_id_of({"update_id": 1, "message": {"chat": {"id": "x"}}}) is None
