"""Flattening Bot API updates into the rows of ``telegram`` and ``telegram_event``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import (
    ANONYMOUS_ADMIN,
    CHANNEL_BOT,
    EVENT_KINDS,
    MESSAGE_CONTENT,
    MESSAGE_KINDS,
    SERVICE_CONTENT,
    SERVICE_USER,
    bot_updates,
    message_updates,
)
from tgstat.domain import lake, lake_content
from tgstat.domain.lake_rows import FlatMessage, flatten, to_event

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Lake group"}
CHANNEL = {"id": -1009876543210, "type": "channel", "title": "Lake channel"}
ANN = {"id": 7, "is_bot": False, "first_name": "Ann", "username": "ann_b", "language_code": "en"}


def message(update_id: int = 10, kind: str = "message", **fields: Any) -> dict[str, Any]:
    body = {"message_id": 5, "date": 1795132800, "chat": GROUP, "from": ANN, "text": "hi"}
    return {"update_id": update_id, kind: body | fields}


def row(**changes: Any) -> FlatMessage:
    """The row of ``message()``, with ``changes``."""
    values: dict[str, Any] = {
        "message_id": 5,
        "user_id": 7,
        "user_is_bot": False,
        "user_first_name": "Ann",
        "chat_id": -1001234567890,
        "chat_type": "supergroup",
        "text": "hi",
        "date": 1795132800,
        "update_id": 10,
        "update_kind": "message",
        "content_type": "text",
        "is_service": False,
        "caption": None,
        "sender_chat_id": None,
        "sender_chat_type": None,
        "reply_to_message_id": None,
        "message_thread_id": None,
        "is_topic_message": False,
        "media_group_id": None,
        "forward_origin_type": None,
        "forward_origin_id": None,
        "forward_date": None,
        "is_automatic_forward": False,
        "edit_date": None,
        "migrate_to_chat_id": None,
        "migrate_from_chat_id": None,
        "user_username": "ann_b",
        "user_language_code": "en",
        "user_is_premium": False,
    }
    return FlatMessage(**(values | changes))


class TestDocumentedKinds:
    """tgstat's lists of update kinds and content fields are the Bot API's (10.2)."""

    def test_update_kinds(self) -> None:
        assert set(lake.UPDATE_KINDS) == set(MESSAGE_KINDS) | set(EVENT_KINDS)
        assert set(MESSAGE_KINDS) == lake.MESSAGE_KINDS
        assert len(lake.UPDATE_KINDS) == 26

    def test_content_fields(self) -> None:
        assert set(lake_content.CONTENT) == set(MESSAGE_CONTENT)
        assert set(lake_content.SERVICE) == set(SERVICE_CONTENT) | {"user_shared"}


class TestFlattenProperties:
    """Any documented update flattens without error: a message kind into one row."""

    @given(bot_updates())
    def test_a_row_exactly_for_message_kinds(self, update: dict[str, Any]) -> None:
        (kind,) = set(update) - {"update_id"}
        assert (flatten(update) is not None) == (kind in MESSAGE_KINDS)

    @given(message_updates())
    def test_values_come_from_the_message(self, update: dict[str, Any]) -> None:
        (kind,) = set(update) - {"update_id"}
        m = update[kind]
        flat = flatten(update)
        assert flat is not None
        assert (flat.message_id, flat.chat_id, flat.chat_type, flat.date) == (
            m["message_id"],
            m["chat"]["id"],
            m["chat"]["type"],
            m["date"],
        )
        assert (flat.update_id, flat.update_kind) == (update["update_id"], kind)
        assert (flat.text, flat.caption) == (m.get("text"), m.get("caption"))
        assert flat.edit_date == m.get("edit_date")
        assert (flat.edit_date is not None) == kind.startswith("edited_")

    @given(message_updates())
    def test_people_only_in_user_columns(self, update: dict[str, Any]) -> None:
        (m,) = (v for k, v in update.items() if k != "update_id")
        flat = flatten(update)
        assert flat is not None
        placeholder = m.get("from") in (ANONYMOUS_ADMIN, CHANNEL_BOT, SERVICE_USER)
        if placeholder or "from" not in m:
            assert (flat.user_id, flat.user_is_bot, flat.user_first_name) == (None, None, None)
            assert flat.user_is_premium is None
        else:
            assert (flat.user_id, flat.user_first_name) == (
                m["from"]["id"],
                m["from"]["first_name"],
            )
            assert flat.user_is_premium is m["from"].get("is_premium", False)
        sender_chat = m.get("sender_chat", {})
        assert (flat.sender_chat_id, flat.sender_chat_type) == (
            sender_chat.get("id"),
            sender_chat.get("type"),
        )

    @given(bot_updates())
    def test_every_update_has_an_event_row(self, update: dict[str, Any]) -> None:
        body = json.dumps(update).encode()
        event = to_event(update, body)
        assert (event.update_id, event.raw_update) == (update["update_id"], body.decode())
        assert json.loads(event.raw_update) == update

    @given(st.dictionaries(st.text(), JSON), JSON)
    def test_never_raises_on_any_json_object(self, update: dict[str, Any], value: Any) -> None:
        for kind in ("message", "edited_channel_post", "chat_boost", "callback_query"):
            flatten({"update_id": 1, kind: value})
            to_event({"update_id": 1, kind: value}, b"{}")
        flatten(update)


class TestContentType:
    """content_type is the message's content field; service fields make is_service."""

    @pytest.mark.parametrize("field", sorted(MESSAGE_CONTENT))
    def test_content_fields(self, field: str) -> None:
        flat = flatten(message(**{"text": None} | MESSAGE_CONTENT[field]))
        assert flat is not None
        assert (flat.content_type, flat.is_service) == (field, False)

    @pytest.mark.parametrize("field", sorted(SERVICE_CONTENT))
    def test_service_fields(self, field: str) -> None:
        update = message(text=None, **{field: SERVICE_CONTENT[field]})
        flat = flatten(update)
        assert flat is not None
        assert (flat.content_type, flat.is_service) == (field, True)

    def test_unknown_content_is_kept(self) -> None:
        """A kind newer than tgstat is a row of content_type 'unknown', not a service one."""
        flat = flatten(message(text=None, hologram={"file_id": "x"}))
        assert flat == row(text=None, content_type="unknown")

    def test_caption_of_a_photo(self) -> None:
        update = message(text=None, photo=[{"file_id": "a"}], caption="look", media_group_id="9")
        assert flatten(update) == row(
            text=None, content_type="photo", caption="look", media_group_id="9"
        )

    def test_migration_notices(self) -> None:
        to = message(text=None, chat={"id": -42, "type": "group"}, migrate_to_chat_id=-1005)
        assert flatten(to) == row(
            chat_id=-42,
            chat_type="group",
            text=None,
            content_type="migrate_to_chat_id",
            is_service=True,
            migrate_to_chat_id=-1005,
        )
        back = message(
            text=None, chat={"id": -1005, "type": "supergroup"}, migrate_from_chat_id=-42
        )
        assert flatten(back) == row(
            chat_id=-1005,
            text=None,
            content_type="migrate_from_chat_id",
            is_service=True,
            migrate_from_chat_id=-42,
        )


class TestSenders:
    """A chat that speaks in a group is the sender_chat; its placeholder ``from`` is no user."""

    def test_anonymous_admin(self) -> None:
        update = message(**{"from": ANONYMOUS_ADMIN, "sender_chat": GROUP})
        assert flatten(update) == row(
            user_id=None,
            user_is_bot=None,
            user_first_name=None,
            user_username=None,
            user_language_code=None,
            user_is_premium=None,
            sender_chat_id=GROUP["id"],
            sender_chat_type="supergroup",
        )

    def test_channel_posting_in_the_group(self) -> None:
        update = message(**{"from": CHANNEL_BOT, "sender_chat": CHANNEL})
        flat = flatten(update)
        assert flat is not None
        assert (flat.user_id, flat.sender_chat_id, flat.sender_chat_type) == (
            None,
            CHANNEL["id"],
            "channel",
        )

    def test_automatic_forward_of_the_linked_channel(self) -> None:
        origin = {"type": "channel", "chat": CHANNEL, "message_id": 77, "date": 1795132790}
        update = message(
            **{"from": SERVICE_USER, "sender_chat": CHANNEL},
            is_automatic_forward=True,
            forward_origin=origin,
        )
        assert flatten(update) == row(
            user_id=None,
            user_is_bot=None,
            user_first_name=None,
            user_username=None,
            user_language_code=None,
            user_is_premium=None,
            sender_chat_id=CHANNEL["id"],
            sender_chat_type="channel",
            is_automatic_forward=True,
            forward_origin_type="channel",
            forward_origin_id=CHANNEL["id"],
            forward_date=1795132790,
        )

    def test_a_placeholder_id_without_sender_chat_is_still_no_user(self) -> None:
        flat = flatten(message(**{"from": SERVICE_USER}))
        assert flat is not None
        assert (flat.user_id, flat.sender_chat_id) == (None, None)

    def test_channel_post(self) -> None:
        update = {
            "update_id": 3,
            "channel_post": {"message_id": 9, "date": 1, "chat": CHANNEL, "sender_chat": CHANNEL},
        }
        flat = flatten(update)
        assert flat is not None
        assert (flat.update_kind, flat.user_id, flat.sender_chat_id, flat.content_type) == (
            "channel_post",
            None,
            CHANNEL["id"],
            "unknown",
        )

    def test_a_premium_bot_user(self) -> None:
        bot = {"id": 99, "is_bot": True, "first_name": "Helper", "is_premium": True}
        assert flatten(message(**{"from": bot})) == row(
            user_id=99,
            user_is_bot=True,
            user_first_name="Helper",
            user_username=None,
            user_language_code=None,
            user_is_premium=True,
        )


class TestRepliesAndForwards:
    """Replies, forum topics and forward origins."""

    def test_reply(self) -> None:
        flat = flatten(message(reply_to_message={"message_id": 3, "date": 1, "chat": GROUP}))
        assert flat == row(reply_to_message_id=3)

    def test_the_topic_root_is_not_a_reply(self) -> None:
        root = {"message_id": 40, "date": 1, "chat": GROUP, "forum_topic_created": {"name": "T"}}
        update = message(message_thread_id=40, is_topic_message=True, reply_to_message=root)
        assert flatten(update) == row(message_thread_id=40, is_topic_message=True)

    def test_a_reply_inside_a_topic(self) -> None:
        replied = {"message_id": 41, "date": 1, "chat": GROUP}
        update = message(message_thread_id=40, is_topic_message=True, reply_to_message=replied)
        assert flatten(update) == row(
            message_thread_id=40, is_topic_message=True, reply_to_message_id=41
        )

    def test_a_reply_to_a_thread_root_outside_forums(self) -> None:
        """In a reply thread of a plain supergroup, replying to its first message is a reply."""
        root = {"message_id": 40, "date": 1, "chat": GROUP}
        update = message(message_thread_id=40, reply_to_message=root)
        assert flatten(update) == row(message_thread_id=40, reply_to_message_id=40)

    @pytest.mark.parametrize(
        ("origin", "origin_id"),
        [
            ({"type": "user", "date": 100, "sender_user": ANN}, 7),
            ({"type": "hidden_user", "date": 100, "sender_user_name": "Zed"}, None),
            ({"type": "chat", "date": 100, "sender_chat": GROUP}, GROUP["id"]),
            ({"type": "channel", "date": 100, "chat": CHANNEL, "message_id": 8}, CHANNEL["id"]),
            ({"type": "future_kind", "date": 100}, None),
        ],
        ids=["user", "hidden_user", "chat", "channel", "unknown"],
    )
    def test_forward_origin(self, origin: dict[str, Any], origin_id: int | None) -> None:
        assert flatten(message(forward_origin=origin)) == row(
            forward_origin_type=origin["type"], forward_origin_id=origin_id, forward_date=100
        )

    def test_edit(self) -> None:
        update = message(kind="edited_message", text="hi!", edit_date=1795132900)
        assert flatten(update) == row(
            update_kind="edited_message", text="hi!", edit_date=1795132900
        )


class TestMalformed:
    """A message without the ids a row needs gives no row (it becomes an event)."""

    @pytest.mark.parametrize(
        "fields",
        [{"chat": {}}, {"message_id": True}, {"date": "x"}, {"chat": {"id": "-5"}}],
        ids=["no-chat-id", "bool-id", "string-date", "string-chat-id"],
    )
    def test_no_row(self, fields: dict[str, Any]) -> None:
        assert flatten(message(**fields)) is None
