"""The Arrow schemas of the lake's two enriched tables, and rows into Arrow tables."""

from __future__ import annotations

import operator
from collections.abc import Sequence

import pyarrow as pa

from tgstat.domain.lake_rows import FlatEvent, FlatMessage

SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64()),
        pa.field("user_is_bot", pa.bool_()),
        pa.field("user_first_name", pa.string()),
        pa.field("chat_id", pa.int64(), nullable=False),
        pa.field("chat_type", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("date", pa.int64(), nullable=False),
        pa.field("update_id", pa.int64(), nullable=False),
        pa.field("update_kind", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("is_service", pa.bool_(), nullable=False),
        pa.field("caption", pa.string()),
        pa.field("sender_chat_id", pa.int64()),
        pa.field("sender_chat_type", pa.string()),
        pa.field("reply_to_message_id", pa.int64()),
        pa.field("message_thread_id", pa.int64()),
        pa.field("is_topic_message", pa.bool_(), nullable=False),
        pa.field("media_group_id", pa.string()),
        pa.field("forward_origin_type", pa.string()),
        pa.field("forward_origin_id", pa.int64()),
        pa.field("forward_date", pa.int64()),
        pa.field("is_automatic_forward", pa.bool_(), nullable=False),
        pa.field("edit_date", pa.int64()),
        pa.field("migrate_to_chat_id", pa.int64()),
        pa.field("migrate_from_chat_id", pa.int64()),
        pa.field("user_username", pa.string()),
        pa.field("user_language_code", pa.string()),
        pa.field("user_is_premium", pa.bool_()),
    ]
)
"""Table ``telegram`` (docs/design.md 6): the reference design's 8 columns, then the rest."""
EVENT_SCHEMA = pa.schema(
    [
        pa.field("update_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("chat_id", pa.int64()),
        pa.field("user_id", pa.int64()),
        pa.field("date", pa.int64()),
        pa.field("raw_update", pa.string(), nullable=False),
    ]
)
"""Table ``telegram_event``: every update that is not a message."""
COLUMNS = SCHEMA.names
PART = "part-0.parquet"
_MESSAGE_VALUES = operator.attrgetter(*SCHEMA.names)
_EVENT_VALUES = operator.attrgetter(*EVENT_SCHEMA.names)


def messages_table(rows: Sequence[FlatMessage]) -> pa.Table:
    columns = zip(*map(_MESSAGE_VALUES, rows), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
    )


def events_table(rows: Sequence[FlatEvent]) -> pa.Table:
    columns = zip(*map(_EVENT_VALUES, rows), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )
