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

LAKE_DAY_START = 1_795_132_800  # 2026-11-20T00:00:00Z
"""Generated message dates fall on 2026-11-20 .. 2026-11-22 (UTC)."""
TG_USER_IDS = st.integers(min_value=1, max_value=8)
NAMES = st.text(min_size=1, max_size=12)
TEXTS = st.text(min_size=1, max_size=80)
DATES = st.integers(min_value=LAKE_DAY_START, max_value=LAKE_DAY_START + 3 * 86_400 - 1)
MESSAGE_IDS = st.integers(min_value=1, max_value=2**31 - 1)
UPDATE_KINDS = (
    "text",
    "photo",
    "sticker",
    "edited_message",
    "channel_post",
    "sender_chat",
    "callback_query",
    "my_chat_member",
)


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
def tg_messages(draw: st.DrawFn, content: str = "text") -> dict[str, Any]:
    """A Bot API Message sent by a user: ``content`` is text, photo (caption only) or
    sticker."""
    message: dict[str, Any] = {
        "message_id": draw(MESSAGE_IDS),
        "from": draw(tg_users()),
        "chat": draw(tg_chats()),
        "date": draw(DATES),
    }
    if content == "text":
        message["text"] = draw(TEXTS)
        if draw(st.booleans()):
            message["entities"] = [{"offset": 0, "length": 1, "type": "bold"}]
    elif content == "photo":
        message["photo"] = [
            {"file_id": f"AgAC{i}", "file_unique_id": f"AQAD{i}", "width": w, "height": w}
            for i, w in enumerate((90, 320, 800))
        ]
        if draw(st.booleans()):
            message["caption"] = draw(TEXTS)
    else:
        message["sticker"] = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADwQADVp29Cg",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": draw(st.sampled_from(["😀", "👍🏽", "🎉"])),
        }
    return message


@st.composite
def bot_updates(draw: st.DrawFn, kinds: Sequence[str] = UPDATE_KINDS) -> dict[str, Any]:
    """One valid Bot API Update of one of ``kinds`` (see UPDATE_KINDS); the top-level key
    is ``message`` for text, photo, sticker and sender_chat."""
    kind = draw(st.sampled_from(list(kinds)))
    update_id = draw(st.integers(min_value=1, max_value=2**31 - 1))
    if kind in ("text", "photo", "sticker"):
        return {"update_id": update_id, "message": draw(tg_messages(kind))}
    if kind == "edited_message":
        message = draw(tg_messages(draw(st.sampled_from(["text", "photo"]))))
        message["edit_date"] = message["date"] + draw(st.integers(min_value=1, max_value=3600))
        return {"update_id": update_id, "edited_message": message}
    if kind == "channel_post":
        channel = draw(tg_chats(["channel"]))
        post = {"message_id": draw(MESSAGE_IDS), "sender_chat": channel, "chat": channel}
        post |= {"date": draw(DATES), "text": draw(TEXTS)}
        return {"update_id": update_id, "channel_post": post}
    if kind == "sender_chat":  # sent on behalf of a chat: no ``from``
        message = draw(tg_messages(draw(st.sampled_from(["text", "photo", "sticker"]))))
        del message["from"]
        message["sender_chat"] = draw(tg_chats(["channel"]))
        return {"update_id": update_id, "message": message}
    if kind == "callback_query":
        message = draw(tg_messages("text"))
        message["from"] = {"id": 999, "is_bot": True, "first_name": "LakeBot"}
        query = {
            "id": str(draw(st.integers(min_value=1, max_value=2**62))),
            "from": draw(tg_users(bots=False)),
            "message": message,
            "chat_instance": "-8446112034568571234",
            "data": draw(st.sampled_from(["yes", "no", "page:2"])),
        }
        return {"update_id": update_id, "callback_query": query}
    bot = {"id": 999, "is_bot": True, "first_name": "LakeBot", "username": "lake_bot"}
    change = {
        "chat": draw(tg_chats(["group", "supergroup"])),
        "from": draw(tg_users(bots=False)),
        "date": draw(DATES),
        "old_chat_member": {"status": "left", "user": bot},
        "new_chat_member": {"status": "member", "user": bot},
    }
    return {"update_id": update_id, "my_chat_member": change}


def update_lists(max_size: int = 60) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Updates with distinct ``update_id``s, as one bot receives them."""
    return st.lists(bot_updates(), max_size=max_size, unique_by=lambda u: u["update_id"])
