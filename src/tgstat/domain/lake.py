"""Part B, the message lake: what a Bot API update is, where its chat is, and which day
partition it belongs to (pure).

Update kinds are the Update object's fields (Bot API 10.2,
https://core.telegram.org/bots/api#update).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, TypeGuard

MESSAGE_KINDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_message",
        "edited_business_message",
        "guest_message",
    }
)
"""Update kinds that carry a Message: each becomes a row of the ``telegram`` table."""
EDIT_KINDS = frozenset({"edited_message", "edited_channel_post", "edited_business_message"})

UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "guest_message",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "managed_bot",
    "subscription",
)
"""Every update kind the Bot API documents; the lake stores them all (``allowed_updates``
must name ``chat_member``, ``message_reaction`` and ``message_reaction_count`` for Telegram
to send them at all)."""

UNKNOWN_KIND = "unknown"
"""The kind of an update with no field besides ``update_id``, or with several."""

_CHAT_PATHS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(MESSAGE_KINDS, ("chat", "id")),
    "business_connection": ("user_chat_id",),  # the private chat with the account's user
    "deleted_business_messages": ("chat", "id"),
    "message_reaction": ("chat", "id"),
    "message_reaction_count": ("chat", "id"),
    "callback_query": ("message", "chat", "id"),  # absent for inline messages
    "my_chat_member": ("chat", "id"),
    "chat_member": ("chat", "id"),
    "chat_join_request": ("chat", "id"),
    "chat_boost": ("chat", "id"),
    "removed_chat_boost": ("chat", "id"),
}
"""Where each kind names the chat it happened in. The others name none: inline queries and
results, shipping and pre-checkout queries, paid media purchases, polls and poll answers
(``voter_chat`` is who voted, not where), managed bots, subscriptions."""


def parse_update(body: bytes) -> dict[str, Any] | None:
    """The update in ``body``: a JSON object with an integer ``update_id``; else None."""
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError; deep nesting recurses
        return None
    if not isinstance(update, dict):
        return None
    if not is_int(update.get("update_id")):
        return None
    return update


def update_kind(update: Mapping[str, Any]) -> str:
    """The update's kind: its one field besides ``update_id`` (``message``, ...)."""
    kinds = [k for k in update if k != "update_id"]
    return kinds[0] if len(kinds) == 1 else UNKNOWN_KIND


def message_of(update: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Message an update of a message kind carries; None for other kinds."""
    kind = update_kind(update)
    if kind not in MESSAGE_KINDS:
        return None
    message = update[kind]
    return message if isinstance(message, dict) else None


def chat_id_of(update: Mapping[str, Any]) -> int | None:
    """The chat an update happened in, wherever its kind carries it; None when it names
    none (see ``_CHAT_PATHS``)."""
    kind = update_kind(update)
    path = _CHAT_PATHS.get(kind)
    if path is None:
        return None
    value = dig(update[kind], path)
    return value if is_int(value) else None


def partition_day(arrived_at: datetime, zone: tzinfo) -> date:
    """The calendar day, in ``zone``, the update arrived on: its ``context_date``.

    Never the message's own date (0 under a button press on an old message, days old for
    a late delivery): a day's raw partition is complete once the day is over.
    """
    if arrived_at.tzinfo is None:
        raise ValueError("arrived_at must be timezone-aware")
    return arrived_at.astimezone(zone).date()


def dig(value: Any, path: tuple[str, ...]) -> Any:
    """``value[path[0]][path[1]]...``; None where a step is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):  # JSON objects are dicts (and Mapping checks are slow)
            return None
        value = value.get(key)
    return value


def is_int(value: object) -> TypeGuard[int]:
    """True for a JSON integer (not a boolean)."""
    return type(value) is int
