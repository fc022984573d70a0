"""Signing accounts in and adding channels: the work behind ``add-bot-session`` and
``add-channel``, composed from settings (the commands' argument parsing is in ``tgstat.cli``).

Nothing is stored unless the sign-in (or the channel lookup) succeeds; secrets are sealed
before they reach the database and never printed.
"""

from __future__ import annotations

import getpass
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import attrs

from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import (
    TelethonSignIn,
    connect_authorized,
    session_client,
)
from tgstat.app.bootstrap import bootstrap
from tgstat.app.database import database_url
from tgstat.app.secrets import sealer
from tgstat.app.settings import Settings
from tgstat.app.telegram import stored_client
from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import SessionPk
from tgstat.domain.model import ChannelConfig, SealedSession, SessionStatus
from tgstat.ports.gateway import SessionBannedError
from tgstat.ports.repository import StatRepository
from tgstat.ports.signin import InvalidCodeError, SignIn

CODE_TRIES = 3

SignInFactory = Callable[[int, str, Settings], AbstractAsyncContextManager[SignIn]]
Prompt = Callable[[str], str]


class InputError(TgstatError):
    """Raised for a malformed argument or a prompt left unanswered."""


@attrs.frozen(repr=False)
class NewSession:
    api_id: int
    api_hash: str
    phone: str
    bot_token: str | None = None


@asynccontextmanager
async def telethon_sign_in(api_id: int, api_hash: str, settings: Settings) -> AsyncIterator[SignIn]:
    """The real sign-in: Telethon on an empty session in a private temp dir."""
    async with session_client(
        None, api_id, api_hash, flood_sleep_threshold=settings.flood_sleep_threshold
    ) as handle:
        yield TelethonSignIn(handle)


def normalize_phone(phone: str) -> str:
    """``+<digits>``, or InputError for something that is not a phone number."""
    digits = re.sub(r"[\s()-]", "", phone)
    if not re.fullmatch(r"\+?[0-9]{7,15}", digits):
        raise InputError("--phone must be an international number such as +15551234567")
    return "+" + digits.lstrip("+")


def validate(api_id: int, api_hash: str, phone: str, bot_token: str | None) -> NewSession:
    if api_id <= 0:
        raise InputError("--api-id must be a positive number (from my.telegram.org)")
    if not re.fullmatch(r"[0-9a-fA-F]{32}", api_hash):
        raise InputError("the api_hash must be 32 hexadecimal characters (from my.telegram.org)")
    normalized = normalize_phone(phone)
    if bot_token is not None and not re.fullmatch(r"[0-9]+:[A-Za-z0-9_-]{30,}", bot_token):
        raise InputError("the bot token must look like 123456:ABC... (from @BotFather)")
    return NewSession(api_id, api_hash.lower(), normalized, bot_token)


def ask_secrets(
    settings: Settings, *, with_bot_token: bool, secret_prompt: Prompt = getpass.getpass
) -> tuple[str, str | None]:
    """The api_hash and, when wanted, the bot token: from TGSTAT_API_HASH /
    TGSTAT_SESSION_BOT_TOKEN, else asked without echo. Never from the command line, where
    they would stay readable in ``ps`` and in shell history."""
    api_hash = settings.signin_api_hash or _ask(secret_prompt, "api_hash (my.telegram.org): ")
    token = settings.signin_bot_token
    if token is None and with_bot_token:
        token = _ask(secret_prompt, "Bot API token (@BotFather): ")
    return api_hash, token


def _ask(prompt: Prompt, text: str) -> str:
    try:
        answer = prompt(text).strip()
    except EOFError:
        raise InputError("no answer on standard input; nothing was stored") from None
    if not answer:
        raise InputError("empty answer; nothing was stored")
    return answer


async def sign_in_and_store(
    new: NewSession,
    settings: Settings,
    *,
    sign_in: SignInFactory = telethon_sign_in,
    prompt: Prompt = input,
    secret_prompt: Prompt = getpass.getpass,
    say: Callable[[str], None] = print,
) -> SessionPk:
    """Sign in interactively, then upsert the sealed session by phone (status enabled)."""
    # A bad or missing key and an unreachable database fail before anything is asked. A
    # key file is generated only while nothing sealed is stored: else restoring it is due.
    settings_key = sealer(settings) if settings.secret_key is not None else None
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app:
            async with app.repository.session() as s:
                nothing_sealed = await s.sealed_session_count() == 0
            seal = settings_key or sealer(settings, may_create=nothing_sealed)
            async with sign_in(new.api_id, new.api_hash, settings) as signin:
                await signin.send_code(new.phone)
                signed_in = False
                for attempt in range(1, CODE_TRIES + 1):
                    code = _ask(prompt, "Login code sent by Telegram: ")
                    try:
                        signed_in = await signin.submit_code(code)
                        break
                    except InvalidCodeError:
                        if attempt == CODE_TRIES:
                            raise InvalidCodeError(
                                f"wrong code {CODE_TRIES} times; nothing was stored"
                            ) from None
                        say(f"Wrong code, try again ({CODE_TRIES - attempt} left).")
                if not signed_in:
                    await signin.submit_password(
                        _ask(secret_prompt, "Two-step verification password: ")
                    )
                session_file = await signin.session_file()
            sealed = SealedSession(
                phone_number=new.phone,
                api_id=new.api_id,
                api_hash=seal.seal(new.api_hash.encode()),
                session_bytes=seal.seal(session_file),
                bot_token=None if new.bot_token is None else seal.seal(new.bot_token.encode()),
                status=SessionStatus.ENABLED,
            )
            async with app.repository.session() as s, s.transaction():
                return await s.upsert_session(sealed)


class NoSessionError(TgstatError):
    """Raised when the phone has no enabled session in the pool."""


async def find_session(repository: StatRepository, phone: str) -> SealedSession:
    async with repository.session() as s:
        for session in await s.enabled_sessions():
            if session.phone_number == phone:
                return session
    raise NoSessionError(
        f"no enabled session for phone ***{phone[-4:]}: add one with"
        " `python -m tgstat.flows.add_bot_session`"
    )


async def add_channel(
    phone: str, query: str, settings: Settings, *, client_class: Any = None
) -> ChannelConfig:
    """Resolve ``query`` with the phone's session and upsert the channel; return it.

    A dead session is marked banned (with reason and time) and SessionBannedError raised.
    The session file Telethon updated during the run is sealed and stored back.
    """
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app:
            stored = await find_session(app.repository, phone)
            assert stored.pk is not None
            if stored.session_bytes is None:
                raise NoSessionError(f"session {stored.pk} holds no Telegram session file")
            seal = sealer(settings)  # the session exists: so must the key it is sealed with
            try:
                async with stored_client(
                    stored, seal, settings, client_class=client_class
                ) as handle:
                    await connect_authorized(handle.client)
                    info = await TelethonGateway(handle.client).resolve_channel(query)
            except SessionBannedError as e:
                async with app.repository.session() as s, s.transaction():
                    await s.mark_session_banned(stored.pk, str(e), datetime.now(UTC))
                raise
            channel = ChannelConfig(info.id, info.title, stored.pk, info.username)
            async with app.repository.session() as s, s.transaction():
                await s.upsert_channel(channel)
                if handle.session_file is not None:
                    await s.store_session_file(stored.pk, seal.seal(handle.session_file))
            return channel
