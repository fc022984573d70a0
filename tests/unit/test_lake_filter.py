"""Where an update's chat is, which day it is filed under, and the chat filter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given

from tests.strategies import event_updates, message_updates
from tgstat.domain.lake import chat_id_of, partition_day, update_kind
from tgstat.domain.lake_filter import (
    ChatFilter,
    Verdict,
    migrations_from_json,
    migrations_to_json,
)

GROUP = {"id": -42, "type": "group", "title": "G"}
SUPERGROUP = {"id": -1005, "type": "supergroup", "title": "G"}
OTHER = {"id": -77, "type": "group", "title": "Other"}
USER = {"id": 5, "is_bot": False, "first_name": "Eve"}


def said(chat: dict[str, Any], update_id: int = 1, **fields: Any) -> dict[str, Any]:
    message = {"message_id": update_id, "date": 1795132800, "chat": chat, "from": USER}
    return {"update_id": update_id, "message": message | fields}


class TestChatIdOf:
    """The chat is read wherever the update's kind carries it."""

    @pytest.mark.parametrize(
        ("kind", "payload", "expected"),
        [
            ("message", {"chat": GROUP}, -42),
            ("edited_message", {"chat": GROUP}, -42),
            ("channel_post", {"chat": SUPERGROUP}, -1005),
            ("edited_channel_post", {"chat": SUPERGROUP}, -1005),
            ("business_message", {"chat": {"id": 5}}, 5),
            ("edited_business_message", {"chat": {"id": 5}}, 5),
            ("guest_message", {"chat": GROUP}, -42),
            ("business_connection", {"user": USER, "user_chat_id": 5}, 5),
            ("deleted_business_messages", {"chat": {"id": 5}}, 5),
            ("message_reaction", {"chat": GROUP, "message_id": 1}, -42),
            ("message_reaction_count", {"chat": GROUP, "message_id": 1}, -42),
            ("callback_query", {"from": USER, "message": {"chat": GROUP, "date": 0}}, -42),
            ("callback_query", {"from": USER, "inline_message_id": "x"}, None),
            ("my_chat_member", {"chat": GROUP}, -42),
            ("chat_member", {"chat": GROUP}, -42),
            ("chat_join_request", {"chat": GROUP}, -42),
            ("chat_boost", {"chat": GROUP, "boost": {}}, -42),
            ("removed_chat_boost", {"chat": GROUP}, -42),
            ("inline_query", {"from": USER, "chat_type": "group"}, None),
            ("chosen_inline_result", {"from": USER}, None),
            ("shipping_query", {"from": USER}, None),
            ("pre_checkout_query", {"from": USER}, None),
            ("purchased_paid_media", {"from": USER}, None),
            ("poll", {"id": "1"}, None),
            ("poll_answer", {"voter_chat": GROUP}, None),
            ("managed_bot", {"user": USER}, None),
            ("subscription", {"user": USER}, None),
            ("message", {"chat": {"id": "-42"}}, None),
            ("message", {"chat": {"id": True}}, None),
        ],
    )
    def test_each_kind(self, kind: str, payload: dict[str, Any], expected: int | None) -> None:
        assert chat_id_of({"update_id": 1, kind: payload}) == expected

    @given(message_updates())
    def test_generated_messages(self, update: dict[str, Any]) -> None:
        assert chat_id_of(update) == update[update_kind(update)]["chat"]["id"]

    @given(event_updates())
    def test_generated_events_never_raise(self, update: dict[str, Any]) -> None:
        chat = chat_id_of(update)
        assert chat is None or isinstance(chat, int)


class TestPartitionDay:
    """An update is filed under the lake-zone day it arrived on, never its message's date."""

    def test_arrival_day_in_the_zone(self) -> None:
        arrived = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
        assert partition_day(arrived, UTC) == date(2026, 11, 20)
        assert partition_day(arrived, ZoneInfo("Europe/Berlin")) == date(2026, 11, 21)

    def test_naive_arrival_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            partition_day(datetime(2026, 11, 20, 12), UTC)


class TestChatFilter:
    """Kept chats, the rest dropped, and migrations of kept chats followed."""

    def test_kept_and_dropped(self) -> None:
        kept = ChatFilter(frozenset({-42}))
        assert kept.decide(said(GROUP)) == Verdict(True, -42)
        assert kept.decide(said(OTHER)) == Verdict(False, -77)
        chatless = {"update_id": 3, "inline_query": {"id": "1", "from": USER, "query": "q"}}
        assert kept.decide(chatless) == Verdict(False, None)
        reaction = {"update_id": 4, "message_reaction": {"chat": GROUP, "message_id": 1}}
        assert kept.decide(reaction) == Verdict(True, -42)

    def test_the_old_group_announces_the_migration(self) -> None:
        kept = ChatFilter(frozenset({-42}))
        notice = said(GROUP, migrate_to_chat_id=-1005)
        assert kept.decide(notice) == Verdict(True, -42, (-42, -1005))
        followed = kept.follow(-42, -1005)
        assert followed.kept == {-42, -1005}
        assert followed.decide(said(SUPERGROUP)) == Verdict(True, -1005)
        assert followed.decide(notice) == Verdict(True, -42)  # already followed

    def test_the_new_supergroup_announces_the_migration(self) -> None:
        kept = ChatFilter(frozenset({-42}))
        notice = said(SUPERGROUP, migrate_from_chat_id=-42)
        assert kept.decide(notice) == Verdict(True, -1005, (-42, -1005))

    def test_migrations_of_other_chats_are_not_followed(self) -> None:
        kept = ChatFilter(frozenset({-42}))
        assert kept.decide(said(OTHER, migrate_to_chat_id=-1009)) == Verdict(False, -77)
        assert kept.decide(said(SUPERGROUP, migrate_from_chat_id=-77)) == Verdict(False, -1005)

    def test_migrations_apply_to_configured_chats_only(self) -> None:
        """Removing the old id from the configuration also stops keeping its successor."""
        assert ChatFilter(frozenset({-1}), {-42: -1005}).kept == {-1}
        assert ChatFilter(frozenset({-42}), {-42: -1005, -9: -8}).kept == {-42, -1005}


class TestMigrationsDocument:
    """The followed migrations survive a restart as a small JSON document."""

    def test_round_trip(self) -> None:
        body = migrations_to_json({-42: -1005, -7: -1007})
        assert migrations_from_json(body) == {-42: -1005, -7: -1007}

    @pytest.mark.parametrize(
        "body",
        [b"", b"[]", b'{"migrations": {}}', b'{"migrations": [{"from": -1}]}', b"\xff"],
        ids=["empty", "list", "not-a-list", "half-a-pair", "not-utf8"],
    )
    def test_damaged_documents_are_refused(self, body: bytes) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 (any of json's or ours)
            migrations_from_json(body)
