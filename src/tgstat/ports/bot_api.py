"""The Bot API port: long-polling updates and registering the webhook (part B, the lake)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tgstat.domain.errors import TgstatError


class BotApiError(TgstatError):
    """Raised when the Bot API answers ``ok: false`` or cannot be reached.

    The message never contains the bot token.
    """

    def __init__(
        self, message: str, *, error_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        """Telegram's ``error_code`` (an HTTP status); None when no answer came back."""
        self.retry_after = retry_after
        """Seconds Telegram asked to wait before the next request (429 only)."""

    @property
    def transient(self) -> bool:
        """True when the same request may succeed later (no answer, 5xx, 429)."""
        return self.error_code is None or self.error_code >= 500 or self.error_code == 429


class BotTokenRejectedError(BotApiError):
    """Raised when Telegram rejects the bot token (401)."""


class PollingConflictError(BotApiError):
    """Raised on 409: a webhook is set, or another process is long-polling the same bot."""


class BotRateLimitedError(BotApiError):
    """Raised on 429; ``retry_after`` holds the seconds Telegram asked to wait."""


class BotApi(Protocol):
    """The few Bot API methods the lake uses."""

    async def get_updates(
        self, offset: int | None, timeout_s: int, allowed_updates: Sequence[str]
    ) -> list[tuple[int, bytes]]:
        """Long-poll for updates from ``offset`` on; (update_id, JSON bytes) in order.

        Asking with ``offset`` confirms every earlier update: Telegram drops them.
        """
        ...

    async def set_webhook(
        self, url: str, secret_token: str, allowed_updates: Sequence[str]
    ) -> None:
        """Deliver updates to ``url`` with ``secret_token`` in every request's header."""
        ...
