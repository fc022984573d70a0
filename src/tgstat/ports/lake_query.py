"""The lake query port: SQL over the enriched table ``telegram``."""

from __future__ import annotations

from typing import Any, Protocol

from tgstat.domain.errors import TgstatError


class QueryError(TgstatError):
    """Raised when a lake query cannot run: bad SQL, or no enriched data yet."""


class LakeQuery(Protocol):
    """Runs SQL against a view ``telegram``: the enriched columns plus ``context_date``
    (DATE), one row per ``message`` update of every enriched day."""

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of ``sql``'s result."""
        ...
