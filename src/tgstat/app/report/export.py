"""CSV and JSON: every column of the views, numbers as numbers, NULL as empty / ``null``."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tgstat.app.report.options import LEGEND, ReportOptions, Section
from tgstat.app.report.query import ChannelReport, Table


def machine(value: Any) -> Any:
    """A view's value as JSON has it: instants and days in ISO 8601 (UTC), numbers as
    numbers, NULL as None."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):  # none of the views returns numeric; be exact if one does
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _csv_cell(value: Any) -> str:
    value = machine(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same double
    return str(value)


def section_table(report: ChannelReport, section: Section) -> Table:
    """The rows of ``section`` for one channel."""
    return {
        Section.SUBSCRIBERS: report.summary,
        Section.DAYS: report.days,
        Section.LINKS: report.links,
        Section.POSTS: report.posts,
        Section.CURVES: report.curves,
    }[section]


def to_csv(reports: list[ChannelReport], options: ReportOptions) -> str:
    """The one section of ``options`` as CSV: a header row of the view's column names, then
    the rows of every channel (each row names its ``tg_channel_id``). Empty field: NULL."""
    (section,) = options.shown
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns: tuple[str, ...] | None = None
    for report in reports:
        table = section_table(report, section)
        if columns is None:
            columns = table.columns
            writer.writerow(columns)
        writer.writerows([_csv_cell(v) for v in row] for row in table.rows)
    return out.getvalue()


def to_json(reports: list[ChannelReport], options: ReportOptions) -> str:
    """One object: the legend, the range, and per channel its sections (``subscribers`` an
    object, the others lists of rows keyed by the view's column names)."""
    channels = []
    for report in reports:
        entry: dict[str, Any] = {
            "tg_channel_id": report.channel.tg_channel_id,
            "title": report.channel.title,
            "username": report.channel.username,
        }
        for section in options.shown:
            rows = [
                {k: machine(v) for k, v in row.items()}
                for row in section_table(report, section).dicts()
            ]
            entry[section.value] = rows[0] if section is Section.SUBSCRIBERS else rows
        channels.append(entry)
    document = {
        "legend": LEGEND,
        "since": machine(options.since),
        "until": machine(options.until),
        "sort": options.sort.value,
        "top": options.top,
        "channels": channels,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
