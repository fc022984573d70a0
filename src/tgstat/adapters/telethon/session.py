"""Telethon sessions at run time: a session file lives on disk only while a client uses it.

The file is written into a private temporary directory (0700, file 0600), used by one
``TelegramClient``, read back (Telethon updates it: entity cache, data centre) and deleted,
on success and on error alike.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
from telethon import TelegramClient, errors
from telethon.tl import functions, types

from tgstat.domain.errors import TgstatError
from tgstat.ports.gateway import DisconnectedError, RateLimitedError, SessionBannedError
from tgstat.ports.signin import (
    CodeExpiredError,
    InvalidApiCredentialsError,
    InvalidCodeError,
    InvalidPhoneError,
    SignIn,
    WrongPasswordError,
)

# Errors that mean the session is dead for good.
DEAD_SESSION_ERRORS: tuple[type[Exception], ...] = (
    errors.UserDeactivatedBanError,
    errors.UserDeactivatedError,
    errors.AuthKeyUnregisteredError,
    errors.SessionRevokedError,
    errors.SessionExpiredError,
    errors.AuthKeyDuplicatedError,
)

TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # ConnectionError, TimeoutError: the link dropped or never came up
    EOFError,  # asyncio.IncompleteReadError: the peer closed mid-packet
    errors.InvalidBufferError,  # a packet that is not MTProto (something else answered)
    errors.SecurityError,  # a packet that fails MTProto's checks
)
"""What Telethon raises when no sound MTProto answer comes back: Telegram unreachable, or
something other than Telegram answering (a proxy or captive portal)."""

SESSION_NAME = "tgstat.session"


class CorruptSessionError(TgstatError):
    """Raised when stored session bytes are not a Telethon session file."""


@attrs.define
class SessionClient:
    """A client over a temporary session file; ``session_file`` holds its bytes on exit."""

    client: Any
    path: Path
    session_file: bytes | None = None


@asynccontextmanager
async def session_client(
    session_file: bytes | None,
    api_id: int,
    api_hash: str,
    *,
    flood_sleep_threshold: int,
    client_class: Any = TelegramClient,
) -> AsyncIterator[SessionClient]:
    """A TelegramClient (not yet connected) over a private copy of ``session_file``.

    ``None`` starts an empty session (for a sign-in). The temporary directory is removed on
    exit whatever happens; the updated file is in ``SessionClient.session_file``.
    """
    tmp = Path(tempfile.mkdtemp(prefix="tgstat-session-"))  # mkdtemp makes it 0700
    path = tmp / SESSION_NAME
    try:
        if session_file is not None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, session_file)
            finally:
                os.close(fd)
        try:
            client = client_class(
                str(path),
                api_id,
                api_hash,
                flood_sleep_threshold=flood_sleep_threshold,
                raise_last_call_error=True,
                receive_updates=False,
            )
        except sqlite3.DatabaseError as e:  # Telethon opens the file as SQLite at once
            raise CorruptSessionError(f"not a Telethon session file ({e})") from e
        handle = SessionClient(client, path)
        try:
            yield handle
        finally:
            await client.disconnect()
            client.session.close()
            if path.exists():
                os.chmod(path, 0o600)
                handle.session_file = path.read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def connect_authorized(client: Any) -> None:
    """Connect and prove the session alive with ``get_me()`` (never prompts).

    Raises SessionBannedError for a dead or unauthorised session, DisconnectedError when
    Telegram cannot be reached.
    """
    try:
        await client.connect()
        # Not client.get_me(): it turns every 401 into None and hides which error it was.
        me = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    except DEAD_SESSION_ERRORS as e:
        raise SessionBannedError(f"Telegram rejected the session: {type(e).__name__}") from e
    except errors.UnauthorizedError as e:
        raise SessionBannedError(f"the session is not signed in: {type(e).__name__}") from e
    except TRANSPORT_ERRORS as e:
        raise DisconnectedError(f"cannot reach Telegram: {e}") from e
    if not me:
        raise SessionBannedError("the session is not signed in (add it again)")


class TelethonSignIn(SignIn):
    """SignIn over a TelegramClient with an empty session (see ``session_client``)."""

    def __init__(self, handle: SessionClient) -> None:
        self._handle = handle
        self._phone: str | None = None
        self._code_hash: str | None = None

    async def send_code(self, phone: str) -> None:
        client = self._handle.client
        try:
            if not client.is_connected():
                await client.connect()
            sent = await client.send_code_request(phone)
        except (errors.PhoneNumberInvalidError, errors.PhoneNumberBannedError) as e:
            raise InvalidPhoneError(f"Telegram rejects the phone number: {type(e).__name__}") from e
        except errors.ApiIdInvalidError as e:
            raise InvalidApiCredentialsError("Telegram rejects the api id / api hash") from e
        except errors.FloodWaitError as e:
            raise RateLimitedError(
                f"Telegram asks to wait {e.seconds} s before sending another code", e.seconds
            ) from e
        except TRANSPORT_ERRORS as e:
            raise DisconnectedError(f"cannot reach Telegram: {e}") from e
        self._phone, self._code_hash = phone, sent.phone_code_hash

    async def submit_code(self, code: str) -> bool:
        try:
            await self._handle.client.sign_in(
                self._phone, code=code, phone_code_hash=self._code_hash
            )
        except errors.SessionPasswordNeededError:
            return False
        except (errors.PhoneCodeInvalidError, errors.PhoneCodeEmptyError) as e:
            raise InvalidCodeError("wrong code") from e
        except errors.PhoneCodeExpiredError as e:
            raise CodeExpiredError("the code expired: run the command again") from e
        except errors.FloodWaitError as e:
            raise RateLimitedError(f"Telegram asks to wait {e.seconds} s", e.seconds) from e
        return True

    async def submit_password(self, password: str) -> None:
        try:
            await self._handle.client.sign_in(password=password)
        except errors.PasswordHashInvalidError as e:
            raise WrongPasswordError("wrong two-step verification password") from e
        except errors.FloodWaitError as e:
            raise RateLimitedError(f"Telegram asks to wait {e.seconds} s", e.seconds) from e

    async def session_file(self) -> bytes:
        self._handle.client.session.save()
        return self._handle.path.read_bytes()
