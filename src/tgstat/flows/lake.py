"""``tgstat lake etl`` and ``tgstat lake query``: the daily ETL and SQL over the lake."""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tgstat.adapters.duckdb_query import NAMED_QUERIES, DuckDbLakeQuery
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.domain.errors import TgstatError
from tgstat.flows.settings import Settings
from tgstat.ports.lake import LakeError
from tgstat.services.lake_etl import EtlReport, run_etl, yesterday


class BadDateError(TgstatError):
    """Raised when a day given on the command line or as a flow parameter is not a date."""


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` calendar day."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadDateError(f"not a date (YYYY-MM-DD): {text!r}") from None


def etl_day(text: str | None, settings: Settings, now: datetime) -> date:
    """The day to process: ``text``, else yesterday in the lake time zone."""
    if text is not None:
        return parse_day(text)
    return yesterday(now, ZoneInfo(settings.lake_tz))


def describe(report: EtlReport) -> str:
    """The report in a few lines."""
    day = report.day.isoformat()
    if report.files == 0:
        return f"lake etl {day}: no raw files, nothing written"
    lines = [
        f"lake etl {day}: {report.files} raw files, {report.messages} messages -> {report.path}"
    ]
    if report.other_kinds:
        kinds = ", ".join(f"{k} {n}" for k, n in report.other_kinds.items())
        lines.append(f"  other updates (kept in raw): {kinds}")
    if report.quarantined:
        shown = ", ".join(report.quarantined[:10])
        more = f" (+{len(report.quarantined) - 10} more)" if len(report.quarantined) > 10 else ""
        lines.append(f"  quarantined {len(report.quarantined)}: {shown}{more}")
    return "\n".join(lines)


def lake_store(settings: Settings) -> FsspecLakeStore:
    """The lake at ``settings.lake_root`` (an ``s3://`` root needs the ``s3`` extra)."""
    try:
        return FsspecLakeStore(settings.lake_root)
    except ImportError as e:
        raise LakeError(
            f"cannot open the lake at {settings.lake_root}: {e} (pip install 'tgstat[s3]')"
        ) from e


def add_etl_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date", metavar="YYYY-MM-DD", help="day to process (default: yesterday, TGSTAT_LAKE_TZ)"
    )


def etl_run(args: argparse.Namespace, settings: Settings) -> int:
    day = etl_day(args.date, settings, datetime.now(UTC))
    print(describe(run_etl(lake_store(settings), day)))
    return 0


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("sql", nargs="?", help="SQL over the view `telegram`")
    what.add_argument("--named", choices=sorted(NAMED_QUERIES), help="a reference query")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def query_run(args: argparse.Namespace, settings: Settings) -> int:
    sql = NAMED_QUERIES[args.named] if args.named else args.sql
    engine = DuckDbLakeQuery(lake_store(settings).enriched_glob())
    columns, rows = engine.query(sql)
    if args.csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        out.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        print(table(columns, rows))
    return 0


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table: numbers right-aligned, NULL for None, floats to 2 places."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(_numeric(r[i]) for r in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    count = f"({len(rows)} row{'' if len(rows) == 1 else 's'})"
    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells), count])


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))
