"""``tgstat report``: what channel owners look at, read from the metric views.

This package's top level stays light (the CLI builds its parser from it); the readers are
``tgstat.app.report.render`` (text, CSV, JSON) and ``tgstat.app.report.html`` (the page).
"""

from tgstat.app.report.options import (
    DEFAULT_SECTIONS,
    LEGEND,
    Format,
    ReportOptions,
    ReportOptionsError,
    ReportOutputError,
    Section,
    SortKey,
)

__all__ = [
    "DEFAULT_SECTIONS",
    "LEGEND",
    "Format",
    "ReportOptions",
    "ReportOptionsError",
    "ReportOutputError",
    "Section",
    "SortKey",
]
