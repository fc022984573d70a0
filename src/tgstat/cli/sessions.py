"""``add-bot-session`` and ``add-channel``: arguments and output (the work is in
``tgstat.app.sessions``). Also run as ``python -m tgstat.flows.add_bot_session`` and
``python -m tgstat.flows.add_channel``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from tgstat.app.settings import Settings
from tgstat.cli.errors import Parser, run_command


def register(sub: Any) -> None:
    """Add ``add-bot-session`` and ``add-channel`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser("add-bot-session", help="sign a Telegram account in and store it")
    add_bot_session_arguments(p)
    p.set_defaults(run=add_bot_session)

    p = sub.add_parser("add-channel", help="add a channel by its dialog title")
    add_channel_arguments(p)
    p.set_defaults(run=add_channel_command)


SECRETS_HELP = (
    "The api_hash (and a bot token) are asked without echo, or read from TGSTAT_API_HASH"
    " and TGSTAT_SESSION_BOT_TOKEN; never from the command line, where they would stay in"
    " `ps` and in shell history."
)


def add_bot_session_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = SECRETS_HELP
    parser.add_argument("--api-id", type=int, required=True, help="from my.telegram.org")
    parser.add_argument("--phone", required=True, help="the account's phone, e.g. +15551234567")
    parser.add_argument(
        "--with-bot-token",
        action="store_true",
        help="also ask for a Bot API token to store with the session",
    )
    # refused with a clear line rather than "unrecognized argument"
    parser.add_argument(
        "--api-hash", "--bot-token", dest="secret_in_argv", action="append", help=argparse.SUPPRESS
    )


def add_bot_session(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.sessions import InputError, ask_secrets, sign_in_and_store, validate

    if args.secret_in_argv:
        raise InputError(
            "--api-hash and --bot-token are not taken on the command line (they would stay in"
            " `ps` and shell history): leave them out and type them at the prompt, or set"
            " TGSTAT_API_HASH / TGSTAT_SESSION_BOT_TOKEN"
        )
    api_hash, bot_token = ask_secrets(settings, with_bot_token=args.with_bot_token)
    new = validate(args.api_id, api_hash, args.phone, bot_token)
    pk = asyncio.run(sign_in_and_store(new, settings))
    print(f"stored session {pk} for phone ***{new.phone[-4:]} (status enabled)")
    return 0


def add_channel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phone", required=True, help="phone of a stored session")
    parser.add_argument(
        "--channel", required=True, help='dialog title ("My channel"), @username or id'
    )


def add_channel_command(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.sessions import add_channel, normalize_phone

    channel = asyncio.run(add_channel(normalize_phone(args.phone), args.channel, settings))
    print(f"added channel {channel.name!r} (id {channel.channel_id})")
    return 0


def add_bot_session_main(argv: Sequence[str] | None = None) -> int:
    """``python -m tgstat.flows.add_bot_session``."""
    parser = Parser(
        prog="python -m tgstat.flows.add_bot_session",
        description="Sign a Telegram account in and store its session.",
    )
    add_bot_session_arguments(parser)
    return run_command(add_bot_session, parser.parse_args(argv))


def add_channel_main(argv: Sequence[str] | None = None) -> int:
    """``python -m tgstat.flows.add_channel``."""
    parser = Parser(
        prog="python -m tgstat.flows.add_channel",
        description="Add a channel to collect, by its dialog title.",
    )
    add_channel_arguments(parser)
    return run_command(add_channel_command, parser.parse_args(argv))
