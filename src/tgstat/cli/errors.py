"""The CLI's one error policy: a TgstatError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Settings], int]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line too (``tgstat: error: ...``, exit 2),
    like every other error of the CLI; ``--help`` shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"tgstat: error: {self.prog}: {message} (see --help)\n")


def run_command(run: Command, args: argparse.Namespace) -> int:
    """Run a command; a TgstatError becomes one line on stderr and exit code 2."""
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args, Settings.from_env())
    except TgstatError as e:
        print(f"tgstat: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tgstat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`tgstat report | head`): stop quietly, as Unix tools do;
        # point stdout at /dev/null so the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
