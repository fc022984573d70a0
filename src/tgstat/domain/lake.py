"""Part B, the message lake: which day an update belongs to, and its flat row (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any, TypeGuard

import attrs

MESSAGE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)


@attrs.frozen
class FlatMessage:
    """One ``message`` update as one row of the enriched table (``date``: Unix seconds)."""

    message_id: int
    user_id: int | None
    user_is_bot: bool | None
    user_first_name: str | None
    chat_id: int
    chat_type: str
    text: str | None
    date: int


def parse_update(body: bytes) -> dict[str, Any] | None:
    """The update in ``body``: a JSON object with an integer ``update_id``; else None."""
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError; deep nesting recurses
        return None
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return None
    return update


def update_kind(update: Mapping[str, Any]) -> str:
    """The update's kind: its one field besides ``update_id`` (``message``, ...)."""
    kinds = [k for k in update if k != "update_id"]
    return kinds[0] if len(kinds) == 1 else "unknown"


def _message_of(update: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for kind in MESSAGE_KINDS:
        value = update.get(kind)
        if isinstance(value, Mapping):
            return value
    return None


def message_date(update: Mapping[str, Any]) -> datetime | None:
    """The date of the update's message (any message kind), if it has one."""
    message = _message_of(update)
    if message is None:
        callback = update.get("callback_query")
        if isinstance(callback, Mapping) and isinstance(callback.get("message"), Mapping):
            message = callback["message"]
    if message is None:
        return None
    stamp = message.get("date")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        return None
    return datetime.fromtimestamp(stamp, UTC)


def partition_day(update: Mapping[str, Any], arrived_at: datetime, zone: tzinfo) -> date:
    """The calendar day, in ``zone``, of the message's own date, else of the arrival."""
    moment = message_date(update) or arrived_at
    return moment.astimezone(zone).date()


def chat_id_of(update: Mapping[str, Any]) -> int | None:
    """The chat an update comes from, for the webhook's chat filter."""
    message = _message_of(update)
    if message is None:
        for key in ("callback_query", "my_chat_member", "chat_member", "chat_join_request"):
            value = update.get(key)
            if isinstance(value, Mapping):
                message = value.get("message") if key == "callback_query" else value
                break
    if not isinstance(message, Mapping):
        return None
    chat = message.get("chat")
    if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
        return int(chat["id"])
    return None


def flatten(update: Mapping[str, Any]) -> FlatMessage | None:
    """The row of a ``message`` update; None for every other kind or a malformed message.

    ``text`` is the message's text only (None for a photo with a caption, a sticker, ...);
    the user columns are None when the message has no ``from`` (e.g. sent as a channel).
    """
    message = update.get("message")
    if not isinstance(message, Mapping):
        return None
    chat = message.get("chat")
    message_id, stamp = message.get("message_id"), message.get("date")
    if not isinstance(chat, Mapping):
        return None
    chat_id = chat.get("id")
    if not (_is_int(message_id) and _is_int(stamp) and _is_int(chat_id)):
        return None
    sender = message.get("from")
    if not isinstance(sender, Mapping):
        sender = {}
    text = message.get("text")
    return FlatMessage(
        message_id=message_id,
        user_id=sender["id"] if _is_int(sender.get("id")) else None,
        user_is_bot=sender["is_bot"] if isinstance(sender.get("is_bot"), bool) else None,
        user_first_name=sender.get("first_name")
        if isinstance(sender.get("first_name"), str)
        else None,
        chat_id=chat_id,
        chat_type=str(chat.get("type", "")),
        text=text if isinstance(text, str) else None,
        date=stamp,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
