"""``tgstat report`` as text, CSV or JSON, read from the metric views."""

from __future__ import annotations

from pathlib import Path

from tgstat.app.database import connect
from tgstat.app.report.export import to_csv, to_json
from tgstat.app.report.options import Format, ReportOptions, ReportOutputError
from tgstat.app.report.query import read_reports
from tgstat.app.report.text import to_text


def render(url: str, options: ReportOptions) -> str:
    """The report of the channels ``options`` selects, in ``options.format``.

    Raises UnknownChannelError when ``options.channel`` names no configured channel and
    ReportOptionsError when a title names several.
    """
    with connect(url) as conn:
        reports = read_reports(conn, options)
    if options.format is Format.CSV:
        return to_csv(reports, options)
    if options.format is Format.JSON:
        return to_json(reports, options)
    return to_text(reports, options)


def write(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (UTF-8); raises ReportOutputError naming the file."""
    try:
        path.write_text(content, encoding="utf-8")
    except OSError as e:
        raise ReportOutputError(f"cannot write {path}: {e.strerror or e}") from e
