"""The ``tgstat`` command line. A TgstatError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from tgstat.domain.errors import TgstatError
from tgstat.flows.database import database_url
from tgstat.flows.migrate import migrate, schema_summary
from tgstat.flows.settings import Settings

EXIT_ERROR = 2

Command = Callable[[argparse.Namespace, Settings], int]


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings) as url:
        migrate(url)
        if args.summary:
            print(f"{'table':<32}{'columns':>8}{'rows':>10}")
            for table, columns, rows in schema_summary(url):
                print(f"{table:<32}{columns:>8}{rows:>10}")
        else:
            print("schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tgstat", description="Telegram channel statistics into PostgreSQL."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply database migrations (dbmate)")
    p.add_argument("--summary", action="store_true", help="print tables, columns and rows")
    p.set_defaults(run=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    run: Command = args.run
    try:
        return run(args, Settings.from_env())
    except TgstatError as e:
        print(f"tgstat: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tgstat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
