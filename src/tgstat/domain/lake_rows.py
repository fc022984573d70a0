"""The rows of the lake's two tables (docs/design.md 6): ``telegram``, one per message update,
and ``telegram_event``, one per other update (pure).

Column values use the Bot API's own names; NULL (None) means Telegram did not say.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from tgstat.domain.lake import MESSAGE_KINDS, dig, is_int, update_kind
from tgstat.domain.lake_content import content_of

PLACEHOLDER_USER_IDS = frozenset({1087968824, 136817688, 777000})
"""The fake ``from`` users Telegram puts on messages a chat sent in a group: an anonymous
admin (GroupAnonymousBot), a channel (Channel_Bot), an automatic forward of the linked
channel (Telegram). The real sender is then ``sender_chat``."""


@attrs.frozen
class FlatMessage:
    """One message update as one row of ``telegram``; instants are Unix seconds.

    The first eight columns are the reference design's, unchanged. ``user_*`` describe the
    person or bot who sent the message, None when a chat sent it (``sender_chat_*``).
    """

    message_id: int
    user_id: int | None
    user_is_bot: bool | None
    user_first_name: str | None
    chat_id: int
    chat_type: str
    text: str | None
    """The text of a text message; None for every other kind (see ``caption``)."""
    date: int
    update_id: int
    update_kind: str
    """The update's field: message, edited_message, channel_post, business_message..."""
    content_type: str
    """The message's content field: text, photo, new_chat_members, ... or unknown."""
    is_service: bool
    caption: str | None
    sender_chat_id: int | None
    sender_chat_type: str | None
    reply_to_message_id: int | None
    """A reply in the same chat; None for the topic's own root that Telegram puts under
    every message of a forum topic."""
    message_thread_id: int | None
    is_topic_message: bool
    media_group_id: str | None
    forward_origin_type: str | None
    """user, hidden_user, chat or channel (MessageOrigin's ``type``)."""
    forward_origin_id: int | None
    """The original sender user, sender chat or channel; None for a hidden user."""
    forward_date: int | None
    is_automatic_forward: bool
    edit_date: int | None
    migrate_to_chat_id: int | None
    migrate_from_chat_id: int | None
    user_username: str | None
    user_language_code: str | None
    user_is_premium: bool | None


@attrs.frozen
class FlatEvent:
    """One update that is not a message as one row of ``telegram_event``.

    ``chat_id`` is where it happened, ``user_id`` who it is about (the member whose status
    changed, the user who reacted, pressed, asked or boosted), ``date`` its own time when
    the kind has one; ``raw_update`` is the update's JSON text as received.
    """

    update_id: int
    kind: str
    chat_id: int | None
    user_id: int | None
    date: int | None
    raw_update: str


_ORIGIN_IDS = {
    "user": ("sender_user", "id"),
    "chat": ("sender_chat", "id"),
    "channel": ("chat", "id"),
}
_EVENT_CHAT: dict[str, tuple[str, ...]] = {
    "business_connection": ("user_chat_id",),
    "deleted_business_messages": ("chat", "id"),
    "message_reaction": ("chat", "id"),
    "message_reaction_count": ("chat", "id"),
    "callback_query": ("message", "chat", "id"),
    "my_chat_member": ("chat", "id"),
    "chat_member": ("chat", "id"),
    "chat_join_request": ("chat", "id"),
    "chat_boost": ("chat", "id"),
    "removed_chat_boost": ("chat", "id"),
    **dict.fromkeys(MESSAGE_KINDS, ("chat", "id")),  # a message too malformed for a row
}
_EVENT_USER: dict[str, tuple[str, ...]] = {
    "business_connection": ("user", "id"),
    "message_reaction": ("user", "id"),  # None when reacted as a chat (actor_chat)
    "inline_query": ("from", "id"),
    "chosen_inline_result": ("from", "id"),
    "callback_query": ("from", "id"),
    "shipping_query": ("from", "id"),
    "pre_checkout_query": ("from", "id"),
    "purchased_paid_media": ("from", "id"),
    "poll_answer": ("user", "id"),  # None when voted as a chat (voter_chat)
    "my_chat_member": ("new_chat_member", "user", "id"),
    "chat_member": ("new_chat_member", "user", "id"),
    "chat_join_request": ("from", "id"),
    "chat_boost": ("boost", "source", "user", "id"),
    "removed_chat_boost": ("source", "user", "id"),
    "managed_bot": ("user", "id"),
    "subscription": ("user", "id"),
    **dict.fromkeys(MESSAGE_KINDS, ("from", "id")),
}
_EVENT_DATE: dict[str, tuple[str, ...]] = {
    "business_connection": ("date",),
    "message_reaction": ("date",),
    "message_reaction_count": ("date",),
    "my_chat_member": ("date",),
    "chat_member": ("date",),
    "chat_join_request": ("date",),
    "chat_boost": ("boost", "add_date"),
    "removed_chat_boost": ("remove_date",),
    **dict.fromkeys(MESSAGE_KINDS, ("date",)),
}
"""A callback query has no time of its own: its message's ``date`` is the message's (0
when inaccessible), so the event's date is None and ``context_date`` tells the arrival."""


def flatten(update: Mapping[str, Any]) -> FlatMessage | None:
    """The ``telegram`` row of a message update; None for every other kind, or for a
    message without an integer message_id, date and chat id."""
    kind = update_kind(update)
    if kind not in MESSAGE_KINDS:
        return None
    message = update[kind]
    if not isinstance(message, dict):  # JSON objects are dicts (Mapping checks are slow)
        return None
    chat = message.get("chat")
    if not isinstance(chat, dict):
        return None
    message_id, stamp, chat_id = message.get("message_id"), message.get("date"), chat.get("id")
    update_id = update.get("update_id")
    if not (is_int(message_id) and is_int(stamp) and is_int(chat_id) and is_int(update_id)):
        return None
    chat_type = _str(chat.get("type")) or ""
    sender_chat = message.get("sender_chat")
    if not isinstance(sender_chat, dict):
        sender_chat = None
    user = _person(message.get("from"), sender_chat is not None, chat_type)
    content_type, is_service = content_of(message)
    thread_id = _int(message.get("message_thread_id"))
    is_topic = message.get("is_topic_message") is True
    reply_id = _int(dig(message, ("reply_to_message", "message_id")))
    if is_topic and reply_id is not None and reply_id == thread_id:
        reply_id = None  # the topic's root, not a reply
    origin = message.get("forward_origin")
    if not isinstance(origin, dict):
        origin = {}
    origin_type = _str(origin.get("type"))
    origin_path = _ORIGIN_IDS.get(origin_type or "")
    return FlatMessage(
        message_id=message_id,
        user_id=_int(user.get("id")),
        user_is_bot=_bool(user.get("is_bot")),
        user_first_name=_str(user.get("first_name")),
        chat_id=chat_id,
        chat_type=chat_type,
        text=_str(message.get("text")),
        date=stamp,
        update_id=update_id,
        update_kind=kind,
        content_type=content_type,
        is_service=is_service,
        caption=_str(message.get("caption")),
        sender_chat_id=_int(sender_chat.get("id")) if sender_chat else None,
        sender_chat_type=_str(sender_chat.get("type")) if sender_chat else None,
        reply_to_message_id=reply_id,
        message_thread_id=thread_id,
        is_topic_message=is_topic,
        media_group_id=_str(message.get("media_group_id")),
        forward_origin_type=origin_type,
        forward_origin_id=_int(dig(origin, origin_path)) if origin_path else None,
        forward_date=_int(origin.get("date")),
        is_automatic_forward=message.get("is_automatic_forward") is True,
        edit_date=_int(message.get("edit_date")),
        migrate_to_chat_id=_int(message.get("migrate_to_chat_id")),
        migrate_from_chat_id=_int(message.get("migrate_from_chat_id")),
        user_username=_str(user.get("username")),
        user_language_code=_str(user.get("language_code")),
        user_is_premium=(user.get("is_premium") is True) if user else None,
    )


def to_event(update: Mapping[str, Any], body: bytes) -> FlatEvent:
    """The ``telegram_event`` row of an update (of any kind) received as ``body``."""
    kind = update_kind(update)
    payload = update.get(kind)
    chat, user, when = (_EVENT_CHAT.get(kind), _EVENT_USER.get(kind), _EVENT_DATE.get(kind))
    try:
        text = body.decode()
    except UnicodeDecodeError:  # UTF-16/32 JSON, or an encoded lone surrogate
        text = json.dumps(update)
    return FlatEvent(
        update_id=update["update_id"],
        kind=kind,
        chat_id=_int(dig(payload, chat)) if chat else None,
        user_id=_int(dig(payload, user)) if user else None,
        date=_int(dig(payload, when)) if when else None,
        raw_update=text.removeprefix("\ufeff"),
    )


def _person(sender: Any, has_sender_chat: bool, chat_type: str) -> Mapping[str, Any]:
    """``from`` when it is a person or a bot; empty for none or a placeholder."""
    if not isinstance(sender, dict):
        return {}
    if _int(sender.get("id")) in PLACEHOLDER_USER_IDS:
        return {}
    # "if the message was sent on behalf of a chat, the field contains a fake sender user
    # in non-channel chats" (Bot API, Message.from)
    if has_sender_chat and chat_type != "channel":
        return {}
    return sender


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _str(value: object) -> str | None:
    return value if type(value) is str else None


def _bool(value: object) -> bool | None:
    return value if type(value) is bool else None


@attrs.frozen
class RowBatch:
    """Rows of a run of raw files, for both tables (one Parquet row group each)."""

    messages: list[FlatMessage]
    events: list[FlatEvent]


@attrs.frozen
class DayFiles:
    """Where one day's two enriched partitions were written."""

    messages: str
    """``enriched/telegram/context_date=.../part-0.parquet``"""
    events: str
    """``enriched/telegram_event/context_date=.../part-0.parquet``"""
