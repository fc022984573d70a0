"""The CLI's one error policy: a TgstatError becomes one line on stderr and exit code 2.

A psycopg operational error that escaped the adapters (a synchronous connection of ``report``,
``migrate`` or ``doctor`` losing its server) is one line too, and every line printed or
logged goes through ``redact``: no password reaches the terminal whatever its spelling.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from tgstat.app.redaction import redact
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError

if TYPE_CHECKING:
    import psycopg

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Settings], int]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line too (``tgstat: error: ...``, exit 2),
    like every other error of the CLI; ``--help`` shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"tgstat: error: {self.prog}: {message} (see --help)\n")


def run_command(run: Command, args: argparse.Namespace) -> int:
    """Run a command; a TgstatError, or a psycopg error (``database connection lost: ...``),
    becomes one line on stderr, password masked, and exit code 2."""
    _configure_logging(verbose=getattr(args, "verbose", False))
    try:
        return run(args, Settings.from_env())
    except TgstatError as e:
        return _fail(str(e))
    except _database_errors() as e:
        from tgstat.adapters.postgres.connection import database_error

        return _fail(str(database_error(e)))
    except KeyboardInterrupt:
        print("tgstat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`tgstat report | head`): stop quietly, as Unix tools do;
        # point stdout at /dev/null so the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _fail(message: str) -> int:
    # one line whatever the message holds (a DSN with a newline, a server's multi-line text)
    line = " ".join(redact(message).split())
    print(f"tgstat: error: {line}", file=sys.stderr)
    return EXIT_ERROR


def _database_errors() -> tuple[type[psycopg.Error], ...]:
    # Evaluated only when an exception gets here: psycopg is imported lazily by the
    # commands that use it, and a command that never imported it cannot raise its errors.
    # Only the server going away: a programming error keeps its traceback.
    psycopg = sys.modules.get("psycopg")
    return () if psycopg is None else (psycopg.OperationalError, psycopg.InterfaceError)


class _Redacting(logging.Filter):
    """Masks passwords in every record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except (TypeError, ValueError):  # a record whose arguments do not fit its format
            record.msg = redact(str(record.msg))
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(text).rstrip("\n")
        return True


def _configure_logging(*, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redacting) for f in handler.filters):
            handler.addFilter(_Redacting())
    if not verbose:
        # The pool retries a lost server in the background and warns on each attempt; the
        # command's own one-line error says it once.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
