"""The SignIn port: signing a Telegram account in interactively, once, to get a session."""

from __future__ import annotations

from typing import Protocol

from tgstat.domain.errors import TgstatError


class SignInError(TgstatError):
    """Base of the errors of an interactive sign-in."""


class InvalidPhoneError(SignInError):
    """Raised when Telegram rejects the phone number."""


class InvalidApiCredentialsError(SignInError):
    """Raised when Telegram rejects the api id / api hash pair."""


class InvalidCodeError(SignInError):
    """Raised when the login code is wrong (the user may try again)."""


class CodeExpiredError(SignInError):
    """Raised when the login code expired; a new sign-in must start."""


class WrongPasswordError(SignInError):
    """Raised when the two-step verification password is wrong."""


class SignIn(Protocol):
    """One sign-in attempt on a fresh session. May also raise gateway RateLimitedError."""

    async def send_code(self, phone: str) -> None:
        """Ask Telegram to send a login code to the account's devices."""
        ...

    async def submit_code(self, code: str) -> bool:
        """True when signed in; False when the account needs its 2FA password."""
        ...

    async def submit_password(self, password: str) -> None: ...

    async def session_file(self) -> bytes:
        """The signed-in session, as Telethon's ``.session`` file bytes."""
        ...
