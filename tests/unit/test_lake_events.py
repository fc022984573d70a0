"""The rows of ``telegram_event``: where, who, when, and the update as received."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from tests.strategies import event_updates
from tgstat.domain.lake_rows import FlatEvent, to_event

GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Lake group"}
CHANNEL = {"id": -1009876543210, "type": "channel", "title": "Lake channel"}
ANN = {"id": 7, "is_bot": False, "first_name": "Ann", "username": "ann_b", "language_code": "en"}
USER = {"id": 5, "is_bot": False, "first_name": "Eve"}
EVENTS = [
    ("business_connection", {"id": "b", "user": USER, "user_chat_id": 5, "date": 9}, (5, 5, 9)),
    ("deleted_business_messages", {"chat": GROUP, "message_ids": [1]}, (GROUP["id"], None, None)),
    (
        "message_reaction",
        {"chat": GROUP, "message_id": 4, "user": USER, "date": 9, "new_reaction": []},
        (GROUP["id"], 5, 9),
    ),
    (
        "message_reaction",
        {"chat": GROUP, "message_id": 4, "actor_chat": CHANNEL, "date": 9, "new_reaction": []},
        (GROUP["id"], None, 9),
    ),
    ("message_reaction_count", {"chat": GROUP, "message_id": 4, "date": 9}, (GROUP["id"], None, 9)),
    ("inline_query", {"id": "1", "from": USER, "query": "q"}, (None, 5, None)),
    ("chosen_inline_result", {"result_id": "r", "from": USER, "query": "q"}, (None, 5, None)),
    (
        "callback_query",
        {"id": "1", "from": USER, "message": {"message_id": 3, "date": 0, "chat": GROUP}},
        (GROUP["id"], 5, None),
    ),
    ("callback_query", {"id": "1", "from": USER, "inline_message_id": "i"}, (None, 5, None)),
    ("shipping_query", {"id": "s", "from": USER}, (None, 5, None)),
    ("pre_checkout_query", {"id": "p", "from": USER}, (None, 5, None)),
    ("purchased_paid_media", {"from": USER, "paid_media_payload": "p"}, (None, 5, None)),
    ("poll", {"id": "9", "question": "q"}, (None, None, None)),
    ("poll_answer", {"poll_id": "9", "user": USER, "option_ids": [0]}, (None, 5, None)),
    ("poll_answer", {"poll_id": "9", "voter_chat": GROUP, "option_ids": [0]}, (None, None, None)),
    (
        "my_chat_member",
        {"chat": GROUP, "from": ANN, "date": 9, "new_chat_member": {"user": USER}},
        (GROUP["id"], 5, 9),
    ),
    (
        "chat_member",
        {"chat": GROUP, "from": ANN, "date": 9, "new_chat_member": {"user": USER}},
        (GROUP["id"], 5, 9),
    ),
    ("chat_join_request", {"chat": GROUP, "from": USER, "date": 9}, (GROUP["id"], 5, 9)),
    (
        "chat_boost",
        {"chat": GROUP, "boost": {"add_date": 9, "source": {"source": "premium", "user": USER}}},
        (GROUP["id"], 5, 9),
    ),
    (
        "removed_chat_boost",
        {"chat": GROUP, "remove_date": 9, "source": {"source": "giveaway"}},
        (GROUP["id"], None, 9),
    ),
    ("managed_bot", {"user": USER, "bot": {"id": 77}}, (None, 5, None)),
    ("subscription", {"user": USER, "state": "canceled"}, (None, 5, None)),
    ("message", {"message_id": 1, "chat": {"type": "group"}, "from": USER}, (None, 5, None)),
    ("future_kind", {"chat": GROUP, "from": USER}, (None, None, None)),
]


class TestEvents:
    """telegram_event: where (chat), who it is about (user), and the event's own time."""

    @pytest.mark.parametrize(("kind", "payload", "expected"), EVENTS)
    def test_chat_user_date(
        self, kind: str, payload: dict[str, Any], expected: tuple[int | None, ...]
    ) -> None:
        body = json.dumps({"update_id": 4, kind: payload}).encode()
        event = to_event({"update_id": 4, kind: payload}, body)
        assert event == FlatEvent(4, kind, *expected, raw_update=body.decode())

    def test_raw_update_is_the_text_received(self) -> None:
        body = '{"update_id":4,  "poll":{"id":"9","question":"héllo 👋"}}'.encode()
        assert to_event(json.loads(body), body).raw_update == body.decode()

    def test_bytes_that_are_not_utf8_text_are_reserialized(self) -> None:
        body = '{"update_id": 4, "poll": {"id": "\\ud800"}}'.encode("utf-16")
        update = json.loads(body)
        assert json.loads(to_event(update, body).raw_update) == update

    @given(event_updates())
    def test_generated_events_name_their_kind(self, update: dict[str, Any]) -> None:
        (kind,) = set(update) - {"update_id"}
        assert to_event(update, json.dumps(update).encode()).kind == kind
