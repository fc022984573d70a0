"""What a Bot API Message is: its content field (``content_type``) and whether it is a
service message (Bot API 10.2, https://core.telegram.org/bots/api#message).

A message carries exactly one content field, except where Telegram duplicates one for
backward compatibility (``animation`` also sets ``document``, ``live_photo`` also sets
``photo``, ``venue`` also sets ``location``): the first field of the lists below wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONTENT = (
    "text",
    "rich_message",
    "animation",  # before document
    "audio",
    "live_photo",  # before photo
    "document",
    "paid_media",
    "photo",
    "sticker",
    "story",
    "video",
    "video_note",
    "voice",
    "checklist",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",  # before location
    "location",
    "invoice",
    "giveaway",
    "giveaway_winners",
)
"""Fields of messages someone wrote or sent: counted as messages."""

SERVICE = (
    "new_chat_members",
    "left_chat_member",
    "chat_owner_left",
    "chat_owner_changed",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "user_shared",  # before Bot API 7.0
    "chat_shared",
    "gift",
    "unique_gift",
    "gift_upgrade_sent",
    "connected_website",
    "write_access_allowed",
    "passport_data",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "community_chat_added",
    "community_chat_removed",
    "direct_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "managed_bot_created",
    "paid_message_price_changed",
    "poll_option_added",
    "poll_option_deleted",
    "suggested_post_approved",
    "suggested_post_approval_failed",
    "suggested_post_declined",
    "suggested_post_paid",
    "suggested_post_refunded",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "web_app_data",
)
"""Fields of service messages: what happened in the chat (joins, pins, title changes,
topics, migrations, payments, video chats...), not something a member wrote."""

UNKNOWN = "unknown"
"""``content_type`` of a message with none of the fields above (a kind newer than this
list): kept as a row, not a service message."""

_FIELDS = CONTENT + SERVICE
_RANK = {field: rank for rank, field in enumerate(_FIELDS)}
_FIRST_SERVICE = len(CONTENT)


def content_of(message: Mapping[str, Any]) -> tuple[str, bool]:
    """``(content_type, is_service)`` of a message: its content field's name."""
    best = len(_FIELDS)
    for key in message:  # a message has ~10 keys: cheaper than probing ~80 names
        rank = _RANK.get(key, best)
        if rank < best and message[key] is not None:
            best = rank
    if best == len(_FIELDS):
        return UNKNOWN, False
    return _FIELDS[best], best >= _FIRST_SERVICE
