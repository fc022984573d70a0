"""The SessionStore port: the pool of Telegram sessions collections sign in with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tgstat.domain.ids import SessionPk
from tgstat.domain.model import SealedSession


class SessionStore(Protocol):
    """Session pool rows (sealed credentials and their status)."""

    async def upsert_session(self, session: SealedSession) -> SessionPk:
        """Insert or update the pool row keyed by phone number; return its pk."""
        ...

    async def get_session(self, pk: SessionPk) -> SealedSession:
        """Raise UnknownSessionError when absent."""
        ...

    async def enabled_sessions(self) -> Sequence[SealedSession]: ...

    async def mark_session_banned(self, pk: SessionPk, reason: str, at: datetime) -> None: ...

    async def store_session_file(self, pk: SessionPk, session_bytes: bytes) -> None:
        """Replace only the (sealed) session file of a pool row, leaving its status alone."""
        ...

    async def sealed_session_count(self) -> int:
        """Pool rows holding a sealed Telegram session file (any status)."""
        ...
