"""Hypothesis strategies for domain values (the one module that builds them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from tests.builders import CHANNEL, T0
from tgstat.domain.ids import EventId, UserId
from tgstat.domain.model import InviteLink, MemberAction, MemberEvent, UserProfile

USER_IDS = st.integers(min_value=1, max_value=6).map(UserId)
PROFILES = st.builds(
    UserProfile,
    id=USER_IDS,
    first_name=st.sampled_from(["Ann", "Bob", None]),
    username=st.sampled_from(["a", "b", None]),
    premium=st.booleans(),
)
ACTIONS = st.sampled_from(list(MemberAction))
INVITES = st.one_of(
    st.none(),
    st.builds(
        InviteLink,
        link=st.sampled_from(["https://t.me/+AbC", "https://t.me/+XyZ"]),
        title=st.sampled_from(["Spring ads", None]),
        via_chatlist=st.booleans(),
    ),
)


@st.composite
def event_logs(draw: st.DrawFn, max_size: int = 40) -> list[MemberEvent]:
    """An admin log: increasing ids and non-decreasing dates, few users, all actions."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    events, event_id, when = [], 0, T0
    for _ in range(n):
        event_id += draw(st.integers(min_value=1, max_value=3))
        when += timedelta(minutes=draw(st.integers(min_value=0, max_value=90)))
        user = draw(PROFILES)
        action = draw(ACTIONS)
        invite = (
            draw(INVITES)
            if action in (MemberAction.JOIN_BY_INVITE, MemberAction.JOIN_BY_REQUEST)
            else None
        )
        events.append(MemberEvent(EventId(event_id), when, action, user, invite))
    return events


__all__ = ["CHANNEL", "event_logs"]


# --- Part B: Bot API updates as Telegram delivers them to the webhook -----------------
# Written from the Bot API 10.2 documentation (https://core.telegram.org/bots/api), not
# from tgstat's own tables, so the two can be checked against each other.

LAKE_DAY_START = 1_795_132_800  # 2026-11-20T00:00:00Z
"""Generated message dates fall on 2026-11-20 .. 2026-11-22 (UTC)."""
TG_USER_IDS = st.integers(min_value=1, max_value=8)
NAMES = st.text(min_size=1, max_size=12)
TEXTS = st.text(min_size=1, max_size=80)
DATES = st.integers(min_value=LAKE_DAY_START, max_value=LAKE_DAY_START + 3 * 86_400 - 1)
MESSAGE_IDS = st.integers(min_value=1, max_value=2**31 - 1)
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel"}
SERVICE_USER = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
PHOTO = [{"file_id": "AgAC1", "file_unique_id": "AQAD1", "width": 90, "height": 90}]
FILE = {"file_id": "BQACAgIAAx", "file_unique_id": "AgADBQ"}
USER = {"id": 5, "is_bot": False, "first_name": "Eve"}
MESSAGE_CONTENT: dict[str, dict[str, Any]] = {
    "text": {"text": "hello"},
    "rich_message": {"rich_message": {"blocks": []}},
    "animation": {"animation": FILE | {"duration": 2}, "document": FILE},
    "audio": {"audio": FILE | {"duration": 60}},
    "live_photo": {"live_photo": FILE | {"width": 9, "height": 9, "duration": 2}, "photo": PHOTO},
    "document": {"document": FILE},
    "paid_media": {"paid_media": {"star_count": 5, "paid_media": [{"type": "preview"}]}},
    "photo": {"photo": PHOTO},
    "sticker": {"sticker": FILE | {"type": "regular", "width": 512, "height": 512}},
    "story": {"story": {"chat": {"id": -1005, "type": "channel"}, "id": 3}},
    "video": {"video": FILE | {"width": 640, "height": 360, "duration": 9}},
    "video_note": {"video_note": FILE | {"length": 240, "duration": 5}},
    "voice": {"voice": FILE | {"duration": 4}},
    "checklist": {"checklist": {"title": "todo", "tasks": [{"id": 1, "text": "a"}]}},
    "contact": {"contact": {"phone_number": "+100", "first_name": "Bo"}},
    "dice": {"dice": {"emoji": "🎲", "value": 4}},
    "game": {"game": {"title": "g", "description": "d", "photo": PHOTO}},
    "poll": {"poll": {"id": "9", "question": "q?", "options": [], "type": "regular"}},
    "venue": {
        "venue": {"location": {"latitude": 1.5, "longitude": 2.5}, "title": "t", "address": "a"},
        "location": {"latitude": 1.5, "longitude": 2.5},
    },
    "location": {"location": {"latitude": 1.5, "longitude": 2.5}},
    "invoice": {"invoice": {"title": "t", "currency": "XTR", "total_amount": 5}},
    "giveaway": {"giveaway": {"chats": [], "winners_selection_date": 1, "winner_count": 1}},
    "giveaway_winners": {"giveaway_winners": {"giveaway_message_id": 4, "winner_count": 1}},
}
"""One example of each content field of a Message someone sent (``animation`` carries
``document``, ``live_photo`` carries ``photo`` and ``venue`` carries ``location`` too, as
Telegram does for older clients)."""
SERVICE_CONTENT: dict[str, Any] = {
    "new_chat_members": [USER],
    "left_chat_member": USER,
    "chat_owner_left": {},
    "chat_owner_changed": {"new_owner": USER},
    "new_chat_title": "New title",
    "new_chat_photo": PHOTO,
    "delete_chat_photo": True,
    "group_chat_created": True,
    "supergroup_chat_created": True,
    "channel_chat_created": True,
    "message_auto_delete_timer_changed": {"message_auto_delete_time": 86400},
    "migrate_to_chat_id": -1001234567890,
    "migrate_from_chat_id": -123456,
    "pinned_message": {"message_id": 1, "date": 0, "chat": {"id": -1, "type": "group"}},
    "successful_payment": {"currency": "XTR", "total_amount": 5, "invoice_payload": "p"},
    "refunded_payment": {"currency": "XTR", "total_amount": 5, "invoice_payload": "p"},
    "users_shared": {"request_id": 1, "users": [{"user_id": 5}]},
    "chat_shared": {"request_id": 1, "chat_id": -1007},
    "gift": {"gift": {"id": "g"}},
    "unique_gift": {"gift": {"id": "u"}, "origin": "upgrade"},
    "gift_upgrade_sent": {"gift": {"id": "g"}},
    "connected_website": "example.org",
    "write_access_allowed": {"from_request": True},
    "passport_data": {"data": [], "credentials": {}},
    "proximity_alert_triggered": {"traveler": USER, "watcher": USER, "distance": 5},
    "boost_added": {"boost_count": 1},
    "chat_background_set": {"type": {"type": "fill"}},
    "checklist_tasks_done": {"marked_as_done_task_ids": [1]},
    "checklist_tasks_added": {"tasks": []},
    "community_chat_added": {"community": {}},
    "community_chat_removed": {},
    "direct_message_price_changed": {"are_direct_messages_enabled": True},
    "forum_topic_created": {"name": "Topic", "icon_color": 7322096},
    "forum_topic_edited": {"name": "Renamed"},
    "forum_topic_closed": {},
    "forum_topic_reopened": {},
    "general_forum_topic_hidden": {},
    "general_forum_topic_unhidden": {},
    "giveaway_created": {},
    "giveaway_completed": {"winner_count": 1},
    "managed_bot_created": {"bot": {"id": 77, "is_bot": True, "first_name": "Mini"}},
    "paid_message_price_changed": {"paid_message_star_count": 3},
    "poll_option_added": {"option_persistent_id": "a", "option_text": "x"},
    "poll_option_deleted": {"option_persistent_id": "a", "option_text": "x"},
    "suggested_post_approved": {"send_date": 1},
    "suggested_post_approval_failed": {"price": {"currency": "XTR", "amount": 1}},
    "suggested_post_declined": {},
    "suggested_post_paid": {"currency": "XTR"},
    "suggested_post_refunded": {"reason": "post_deleted"},
    "video_chat_scheduled": {"start_date": 1},
    "video_chat_started": {},
    "video_chat_ended": {"duration": 60},
    "video_chat_participants_invited": {"users": [USER]},
    "web_app_data": {"data": "d", "button_text": "b"},
}
"""One example of each service-message field of a Message."""
SENDERS = ("user", "bot", "anonymous_admin", "channel", "automatic_forward")
MESSAGE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "guest_message",
)
EVENT_KINDS = (
    "business_connection",
    "deleted_business_messages",
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
"""The Update fields that are not a Message."""


@st.composite
def tg_users(draw: st.DrawFn, *, bots: bool = True) -> dict[str, Any]:
    """A Bot API User: few ids, so users repeat; first names may change between messages."""
    user: dict[str, Any] = {
        "id": draw(TG_USER_IDS),
        "is_bot": draw(st.booleans()) if bots else False,
        "first_name": draw(NAMES),
    }
    if draw(st.booleans()):
        user["username"] = draw(st.from_regex(r"[a-z][a-z0-9_]{4,10}", fullmatch=True))
    if draw(st.booleans()):
        user["language_code"] = draw(st.sampled_from(["en", "ru", "de"]))
    if draw(st.booleans()):
        user["is_premium"] = True
    return user


@st.composite
def tg_chats(
    draw: st.DrawFn, kinds: Sequence[str] = ("private", "group", "supergroup")
) -> dict[str, Any]:
    """A Bot API Chat with an id of its kind's range (groups negative, -100... for
    supergroups and channels)."""
    kind = draw(st.sampled_from(list(kinds)))
    if kind == "private":
        return {"id": draw(TG_USER_IDS), "type": kind, "first_name": draw(NAMES)}
    if kind == "group":
        chat_id = -draw(st.integers(min_value=1, max_value=999_999_999))
    else:
        chat_id = -1_000_000_000_000 - draw(st.integers(min_value=1, max_value=9_999_999_999))
    return {"id": chat_id, "type": kind, "title": draw(NAMES)}


@st.composite
def message_origins(draw: st.DrawFn) -> dict[str, Any]:
    """A MessageOrigin of each documented type."""
    kind = draw(st.sampled_from(["user", "hidden_user", "chat", "channel"]))
    origin: dict[str, Any] = {"type": kind, "date": draw(DATES) - 86_400}
    if kind == "user":
        origin["sender_user"] = draw(tg_users())
    elif kind == "hidden_user":
        origin["sender_user_name"] = draw(NAMES)
    elif kind == "chat":
        origin["sender_chat"] = draw(tg_chats(["supergroup"]))
    else:
        origin["chat"] = draw(tg_chats(["channel"]))
        origin["message_id"] = draw(MESSAGE_IDS)
    return origin


@st.composite
def tg_messages(
    draw: st.DrawFn, content: str | None = None, sender: str | None = None
) -> dict[str, Any]:
    """A Message in a group: ``content`` is a key of MESSAGE_CONTENT or SERVICE_CONTENT
    (drawn when None), ``sender`` one of SENDERS (drawn when None)."""
    fields = list(MESSAGE_CONTENT) + list(SERVICE_CONTENT)
    content = content or draw(st.sampled_from(fields))
    sender = sender or draw(st.sampled_from(SENDERS))
    chat = draw(tg_chats(["group", "supergroup"]))
    message: dict[str, Any] = {"message_id": draw(MESSAGE_IDS), "chat": chat, "date": draw(DATES)}
    if sender in ("user", "bot"):
        message["from"] = draw(tg_users(bots=sender == "bot"))
    else:
        channel = draw(tg_chats(["channel"]))
        message["from"], message["sender_chat"] = {
            "anonymous_admin": (ANONYMOUS_ADMIN, chat),
            "channel": (CHANNEL_BOT, channel),
            "automatic_forward": (SERVICE_USER, channel),
        }[sender]
        if sender == "automatic_forward":
            message["is_automatic_forward"] = True
            message["forward_origin"] = {
                "type": "channel",
                "chat": channel,
                "message_id": draw(MESSAGE_IDS),
                "date": message["date"] - 1,
            }
    if content in MESSAGE_CONTENT:
        message |= MESSAGE_CONTENT[content]
        if content == "text":
            message["text"] = draw(TEXTS)
        elif content in ("photo", "video", "document", "audio", "animation", "voice"):
            if draw(st.booleans()):
                message["caption"] = draw(TEXTS)
            if draw(st.booleans()):
                message["media_group_id"] = str(draw(st.integers(1, 10**15)))
        if sender == "user" and draw(st.booleans()):
            message["forward_origin"] = draw(message_origins())
    else:
        message[content] = SERVICE_CONTENT[content]
    if draw(st.booleans()):
        replied = draw(tg_messages("text", "user")) | {"chat": chat}
        message["reply_to_message"] = replied
    if chat["type"] == "supergroup" and draw(st.booleans()):
        message["message_thread_id"] = draw(MESSAGE_IDS)
        message["is_topic_message"] = True
    return message


@st.composite
def message_updates(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """An update of a message kind (MESSAGE_KINDS), shaped as that kind is."""
    kind = kind or draw(st.sampled_from(MESSAGE_KINDS))
    update_id = draw(st.integers(min_value=1, max_value=2**31 - 1))
    if kind in ("channel_post", "edited_channel_post"):
        channel = draw(tg_chats(["channel"]))
        message = {"message_id": draw(MESSAGE_IDS), "sender_chat": channel, "chat": channel}
        message |= {"date": draw(DATES), "text": draw(TEXTS)}
    elif kind in ("business_message", "edited_business_message"):
        message = draw(tg_messages(sender="user")) | {"chat": draw(tg_chats(["private"]))}
        message["business_connection_id"] = "bc1"
    else:
        message = draw(tg_messages())
    if kind == "guest_message":
        message["guest_query_id"] = "gq1"
    if kind.startswith("edited_"):
        message["edit_date"] = message["date"] + draw(st.integers(min_value=1, max_value=3600))
    return {"update_id": update_id, kind: message}


@st.composite
def event_updates(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """An update of a kind that is not a message (EVENT_KINDS)."""
    kind = kind or draw(st.sampled_from(EVENT_KINDS))
    update_id = draw(st.integers(min_value=1, max_value=2**31 - 1))
    user, chat, date = draw(tg_users(bots=False)), draw(tg_chats()), draw(DATES)
    member = {"status": "member", "user": user}
    source = {"source": "premium", "user": user}
    payload: dict[str, Any] = {
        "business_connection": {"id": "bc1", "user": user, "user_chat_id": user["id"]}
        | {"date": date, "is_enabled": True},
        "deleted_business_messages": {"business_connection_id": "bc1", "chat": chat}
        | {"message_ids": [1, 2]},
        "message_reaction": {"chat": chat, "message_id": 4, "user": user, "date": date}
        | {"old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]},
        "message_reaction_count": {"chat": chat, "message_id": 4, "date": date}
        | {"reactions": [{"type": {"type": "emoji", "emoji": "🔥"}, "total_count": 2}]},
        "inline_query": {"id": "1", "from": user, "query": "q", "offset": ""},
        "chosen_inline_result": {"result_id": "r", "from": user, "query": "q"},
        "callback_query": {
            "id": "7",
            "from": user,
            "message": {"message_id": 3, "date": draw(st.sampled_from([0, date])), "chat": chat},
            "chat_instance": "-844611203",
            "data": "page:2",
        },
        "shipping_query": {"id": "s", "from": user, "invoice_payload": "p"}
        | {"shipping_address": {}},
        "pre_checkout_query": {"id": "p", "from": user, "currency": "XTR"}
        | {"total_amount": 5, "invoice_payload": "p"},
        "purchased_paid_media": {"from": user, "paid_media_payload": "p"},
        "poll": {"id": "9", "question": "q?", "options": [], "total_voter_count": 1}
        | {"is_closed": True, "is_anonymous": False, "type": "regular"},
        "poll_answer": {"poll_id": "9", "user": user, "option_ids": [0]},
        "my_chat_member": {"chat": chat, "from": user, "date": date}
        | {"old_chat_member": member | {"status": "left"}, "new_chat_member": member},
        "chat_member": {"chat": chat, "from": user, "date": date}
        | {"old_chat_member": member | {"status": "left"}, "new_chat_member": member},
        "chat_join_request": {"chat": chat, "from": user, "user_chat_id": user["id"]}
        | {"date": date},
        "chat_boost": {
            "chat": chat,
            "boost": {"boost_id": "b", "add_date": date, "expiration_date": date + 1}
            | {"source": source},
        },
        "removed_chat_boost": {"chat": chat, "boost_id": "b", "remove_date": date}
        | {"source": source},
        "managed_bot": {"user": user, "bot": {"id": 77, "is_bot": True, "first_name": "M"}},
        "subscription": {"user": user, "invoice_payload": "p", "state": "canceled"},
    }[kind]
    return {"update_id": update_id, kind: payload}


def bot_updates() -> st.SearchStrategy[dict[str, Any]]:
    """One valid Bot API Update of any documented kind."""
    return st.one_of(message_updates(), event_updates())


def update_lists(max_size: int = 60) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Updates with distinct ``update_id``s, as one bot receives them."""
    return st.lists(bot_updates(), max_size=max_size, unique_by=lambda u: u["update_id"])
