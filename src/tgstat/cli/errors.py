"""The CLI's one error policy: a TgstatError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Settings], int]


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
