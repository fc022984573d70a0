"""``python -m tgstat.flows.add_bot_session``: sign a Telegram account in, store its session.

Interactive: asks for the login code (3 tries) and, when the account has one, the 2FA
password (never echoed). Nothing is stored unless the sign-in succeeds; secrets are sealed
before they reach the database and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs

from tgstat.adapters.telethon.session import TelethonSignIn, session_client
from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import SessionPk
from tgstat.domain.model import SealedSession, SessionStatus
from tgstat.flows.bootstrap import bootstrap
from tgstat.flows.database import database_url
from tgstat.flows.secrets import sealer
from tgstat.flows.settings import Settings
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
        raise InputError("--api-hash must be 32 hexadecimal characters (from my.telegram.org)")
    normalized = normalize_phone(phone)
    if bot_token is not None and not re.fullmatch(r"[0-9]+:[A-Za-z0-9_-]{30,}", bot_token):
        raise InputError("--bot-token must look like 123456:ABC... (from @BotFather)")
    return NewSession(api_id, api_hash.lower(), normalized, bot_token)


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
    seal = sealer(settings)  # a bad key fails before anything is asked
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app:  # so does an unreachable database
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-id", type=int, required=True, help="from my.telegram.org")
    parser.add_argument("--api-hash", required=True, help="from my.telegram.org")
    parser.add_argument("--phone", required=True, help="the account's phone, e.g. +15551234567")
    parser.add_argument("--bot-token", help="optional Bot API token stored with the session")


def run(args: argparse.Namespace, settings: Settings) -> int:
    new = validate(args.api_id, args.api_hash, args.phone, args.bot_token)
    pk = asyncio.run(sign_in_and_store(new, settings))
    print(f"stored session {pk} for phone ***{new.phone[-4:]} (status enabled)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from tgstat.flows.cli import run_command  # the CLI's one error-to-exit-code policy

    parser = argparse.ArgumentParser(
        prog="python -m tgstat.flows.add_bot_session", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
