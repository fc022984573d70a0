"""The ``tgstat`` command line: one module per command group; a TgstatError becomes one
line on stderr and exit code 2 (``tgstat.cli.errors``).

Building the parser imports no command's dependencies: each command imports what it needs
when it runs, so ``tgstat --help`` stays light and only serving imports Prefect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tgstat.cli import collection, db, deploy, doctor, lake, report, serve, sessions
from tgstat.cli.errors import EXIT_ERROR, Command, Parser, run_command

__all__ = ["EXIT_ERROR", "Command", "Parser", "build_parser", "main", "run_command"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tgstat", description="Telegram channel statistics into PostgreSQL.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    collection.register(sub)
    serve.register(sub)
    deploy.register(sub)
    sessions.register(sub)
    lake.register(sub)
    report.register(sub)
    db.register(sub)
    doctor.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.run, args)


if __name__ == "__main__":
    sys.exit(main())
