"""The lake query port: SQL over the enriched tables ``telegram`` and ``telegram_event``
and the view ``messages`` (docs/design.md 6)."""

from __future__ import annotations

from typing import Any, Protocol

from tgstat.domain.errors import TgstatError

TELEGRAM_COLUMNS = (
    ("message_id", "BIGINT"),
    ("user_id", "BIGINT"),
    ("user_is_bot", "BOOLEAN"),
    ("user_first_name", "VARCHAR"),
    ("chat_id", "BIGINT"),
    ("chat_type", "VARCHAR"),
    ("text", "VARCHAR"),
    ("date", "BIGINT"),
    ("update_id", "BIGINT"),
    ("update_kind", "VARCHAR"),
    ("content_type", "VARCHAR"),
    ("is_service", "BOOLEAN"),
    ("caption", "VARCHAR"),
    ("sender_chat_id", "BIGINT"),
    ("sender_chat_type", "VARCHAR"),
    ("reply_to_message_id", "BIGINT"),
    ("message_thread_id", "BIGINT"),
    ("is_topic_message", "BOOLEAN"),
    ("media_group_id", "VARCHAR"),
    ("forward_origin_type", "VARCHAR"),
    ("forward_origin_id", "BIGINT"),
    ("forward_date", "BIGINT"),
    ("is_automatic_forward", "BOOLEAN"),
    ("edit_date", "BIGINT"),
    ("migrate_to_chat_id", "BIGINT"),
    ("migrate_from_chat_id", "BIGINT"),
    ("user_username", "VARCHAR"),
    ("user_language_code", "VARCHAR"),
    ("user_is_premium", "BOOLEAN"),
)
"""Columns of ``telegram`` and their SQL types, plus ``context_date`` (DATE) from the path.
Days written before a column existed read it as NULL."""
EVENT_COLUMNS = (
    ("update_id", "BIGINT"),
    ("kind", "VARCHAR"),
    ("chat_id", "BIGINT"),
    ("user_id", "BIGINT"),
    ("date", "BIGINT"),
    ("raw_update", "VARCHAR"),
)
"""Columns of ``telegram_event``, plus ``context_date``."""

MESSAGES_VIEW = """
    WITH versions AS (
        SELECT *,
               min(context_date) OVER message AS first_context_date,
               row_number() OVER (
                   PARTITION BY chat_id, message_id, family,
                                CASE WHEN message_id = 0 THEN update_id END
                   ORDER BY coalesce(edit_date, 0) DESC, update_id DESC, context_date DESC
               ) AS version
        FROM (
            SELECT *,
                   CASE WHEN update_kind IN ('business_message', 'edited_business_message')
                        THEN 1 WHEN update_kind = 'guest_message' THEN 2 ELSE 0 END AS family
            FROM telegram
        )
        WINDOW message AS (
            PARTITION BY chat_id, message_id, family,
                         CASE WHEN message_id = 0 THEN update_id END
        )
    )
    SELECT * EXCLUDE (family, first_context_date, version)
             REPLACE (first_context_date AS context_date)
    FROM versions
    WHERE version = 1 AND is_service IS NOT TRUE
"""
"""``messages``: the latest version of each message (the highest ``edit_date``), service
messages out, on the day it first arrived. A message is (chat_id, message_id) within its
family (bot chats, business chats, guest chats); message_id 0 (a scheduled or ephemeral
message) is never merged with another."""

NAMED_QUERIES = {
    "messages-per-user-day": """
        SELECT context_date, user_id,
               max_by(user_first_name, "date") AS user_first_name,
               count(*) AS messages
        FROM messages
        WHERE user_id IS NOT NULL AND NOT user_is_bot
        GROUP BY context_date, user_id
        ORDER BY context_date, user_id
    """,
    "avg-length-per-user-day": """
        SELECT context_date, user_id,
               avg(length(text)) AS avg_text_length,
               count(*) AS text_messages
        FROM messages
        WHERE user_id IS NOT NULL AND NOT user_is_bot AND text IS NOT NULL
        GROUP BY context_date, user_id
        ORDER BY context_date, user_id
    """,
}
"""The reference queries over ``messages`` (the same SQL runs on Athena: see
db/athena/telegram.sql). They count people: messages a chat sent (anonymous admins,
channels, automatic forwards) and bots' messages belong to no one; a user's name is the one
of their last message that day; lengths are in Unicode code points."""


class QueryError(TgstatError):
    """Raised when a lake query cannot run: bad SQL, or no enriched data yet."""


class LakeQuery(Protocol):
    """Runs SQL against ``telegram`` (TELEGRAM_COLUMNS), ``telegram_event``
    (EVENT_COLUMNS) and ``messages`` (MESSAGES_VIEW), each with ``context_date`` (DATE),
    over every enriched day."""

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of ``sql``'s result."""
        ...
