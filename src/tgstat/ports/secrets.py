"""The Sealer port: encryption of secrets at rest (session files, api_hash, bot tokens)."""

from __future__ import annotations

from typing import Protocol

from tgstat.domain.errors import TgstatError


class SecretKeyError(TgstatError):
    """Raised when sealed data cannot be opened with the configured key, or the key is bad."""


class Sealer(Protocol):
    """Seals (encrypts and authenticates) and opens secrets."""

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, sealed: bytes) -> bytes:
        """The plaintext; SecretKeyError when the key does not match or data was altered."""
        ...
