"""The lake query port: SQL over the enriched table ``telegram``."""

from __future__ import annotations

from typing import Any, Protocol

from tgstat.domain.errors import TgstatError

NAMED_QUERIES = {
    "messages-per-user-day": """
        SELECT context_date, user_id,
               max_by(user_first_name, "date") AS user_first_name,
               count(*) AS messages
        FROM telegram
        WHERE user_id IS NOT NULL
        GROUP BY context_date, user_id
        ORDER BY context_date, user_id
    """,
    "avg-length-per-user-day": """
        SELECT context_date, user_id,
               avg(length(text)) AS avg_text_length,
               count(*) AS text_messages
        FROM telegram
        WHERE user_id IS NOT NULL AND text IS NOT NULL
        GROUP BY context_date, user_id
        ORDER BY context_date, user_id
    """,
}
"""The reference queries (the same SQL runs on Athena: see db/athena/telegram.sql).
Messages without a ``from`` (sent as a channel or anonymously) belong to no user; a user's
name is the one of their last message that day; lengths are in Unicode code points."""


class QueryError(TgstatError):
    """Raised when a lake query cannot run: bad SQL, or no enriched data yet."""


class LakeQuery(Protocol):
    """Runs SQL against a view ``telegram``: the enriched columns plus ``context_date``
    (DATE), one row per ``message`` update of every enriched day."""

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of ``sql``'s result."""
        ...
