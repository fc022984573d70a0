"""``tgstat report --html FILE``: one self-contained page of charts and tables.

The charts are Plotly figures (plotly.py, its plotly.js inlined once in the page): the page
loads nothing at view time, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from tgstat.app.database import connect
from tgstat.app.report.options import LEGEND, ReportOptions, SortKey
from tgstat.app.report.query import ChannelReport, Table, read_curves, read_posts, read_reports
from tgstat.app.report.render import write
from tgstat.app.report.text import (
    DAY_COLUMNS,
    LINK_COLUMNS,
    POST_COLUMNS,
    Column,
    cell,
    percent,
)

TOP_POSTS = 10
"""Posts in the top-posts charts unless ``--top`` says otherwise."""
CURVES = 5
"""Views curves drawn (the top posts by views_24h), at most."""
FIRST_DAY_MINUTES = 24 * 60
CONFIG = {"displaylogo": False, "responsive": True}
DAY_AXIS = {"type": "date", "tickformat": "%Y-%m-%d", "dtick": 24 * 3600 * 1000}
"""One tick per UTC day (plotly's dates are in milliseconds)."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1, h2, h3 { font-weight: 600; } figure { margin: 1.5rem 0; }
figcaption { font-weight: 600; margin-bottom: .25rem; } p.legend { color: #555; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: right;
  white-space: nowrap; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; } p.empty { color: #777; }
"""


def write_html(url: str, options: ReportOptions, path: Path) -> int:
    """Write the page for the channels ``options`` selects to ``path``; return the number
    of charts drawn. Raises UnknownChannelError, ReportOptionsError, ReportOutputError."""
    with connect(url) as conn:
        reports = read_reports(conn, options)
        top = options.top or TOP_POSTS
        extra = {}
        for r in reports:
            cid = r.channel.tg_channel_id
            by_views = read_posts(conn, cid, options, SortKey.VIEWS_24H, top)
            by_err = read_posts(conn, cid, options, SortKey.ERR_24H, top)
            best = [p["tg_post_id"] for p in by_views.dicts() if p["views_24h"] is not None]
            curves = read_curves(conn, cid, best[:CURVES], FIRST_DAY_MINUTES)
            extra[cid] = (by_views, by_err, curves)
    charts = 0
    sections = []
    for r in reports:
        figures = _figures(r, *extra[r.channel.tg_channel_id])
        charts += sum(1 for _, fig in figures if fig is not None)
        sections.append(_channel_section(r, figures))
    write(path, _page(options, sections))
    return charts


def _figures(
    report: ChannelReport, by_views: Table, by_err: Table, curves: Table
) -> list[tuple[str, go.Figure | None]]:
    """(caption, figure or None when there is nothing to draw), in page order."""
    days = report.days.dicts()
    read = [d for d in days if d["subscribers"] is not None]
    subscribers = _figure(
        [go.Scatter(x=[d["day"] for d in read], y=[d["subscribers"] for d in read],
                    mode="lines+markers", name="subscribers")],
        "subscribers (the day's last reading)",
        xaxis=DAY_AXIS,
    ) if read else None  # fmt: skip
    x = [d["day"] for d in days]
    flows = _figure(
        [
            go.Bar(x=x, y=[d["joins"] for d in days], name="joins"),
            go.Bar(x=x, y=[d["leaves"] for d in days], name="leaves"),
            go.Bar(x=x, y=[d["removals"] for d in days], name="removals"),
            go.Scatter(x=x, y=[d["net"] for d in days], mode="lines+markers", name="net"),
        ],
        "people per UTC day",
        barmode="group",
        xaxis=DAY_AXIS,
    ) if days else None  # fmt: skip
    links = report.links.dicts()
    names = [row["invite_link_title"] or row["invite_link"] for row in links]
    retention = [percent(row["still_subscribed"] / row["joins"]) for row in links]
    invite = _figure(
        [
            go.Bar(x=names, y=[row["joins"] for row in links], name="joins"),
            go.Bar(x=names, y=[row["still_subscribed"] for row in links],
                   name="still subscribed", text=retention, textposition="outside"),
        ],
        "people",
        barmode="group",
    ) if links else None  # fmt: skip
    err_24h = _top_bar(by_err, "err_24h", 100.0, "%")
    return [
        ("Subscribers over time", subscribers),
        ("Joins, leaves, removals and net per day", flows),
        ("Joins and retention per invite link (still subscribed / joins)", invite),
        ("Top posts by views at 24 hours", _top_bar(by_views, "views_24h", 1.0, "views")),
        ("Top posts by ERR24 (views at 24 h / subscribers at publication, %)", err_24h),
        ("Views in the first 24 hours of the top posts", _curves(curves)),
    ]


def _figure(traces: Sequence[Any], y_title: str, **layout: Any) -> go.Figure:
    fig = go.Figure(data=list(traces))
    fig.update_layout(
        height=360,
        margin={"l": 60, "r": 20, "t": 20, "b": 60},
        yaxis_title=y_title,
        legend={"orientation": "h"},
        **layout,
    )
    return fig


def _post_label(row: dict[str, Any]) -> str:
    return f"#{row['tg_post_id']} {row['date_of_post'].astimezone(UTC):%Y-%m-%d %H:%M}"


def _top_bar(posts: Table, column: str, scale: float, unit: str) -> go.Figure | None:
    rows = [p for p in posts.dicts() if p[column] is not None]
    if not rows:
        return None
    rows.reverse()  # plotly draws the first category at the bottom: highest on top
    values = [scale * p[column] for p in rows]
    bar = go.Bar(
        x=values,
        y=[_post_label(p) for p in rows],
        orientation="h",
        text=[f"{v:.1f}" if scale != 1.0 else f"{v:.0f}" for v in values],
        textposition="auto",
        hovertext=[(p["message"] or "")[:80] for p in rows],
    )
    return _figure([bar], "", xaxis_title=unit)


def _curves(curves: Table) -> go.Figure | None:
    if not curves.rows:
        return None
    lines: dict[int, list[dict[str, Any]]] = {}
    for point in curves.dicts():
        lines.setdefault(point["tg_post_id"], []).append(point)
    traces = [
        go.Scatter(
            x=[p["minutes_since_post"] / 60 for p in points],
            y=[p["views"] for p in points],
            mode="lines+markers",
            name=f"post {post}",
        )
        for post, points in lines.items()
    ]
    return _figure(traces, "views", xaxis_title="hours since publication")


def _html_table(columns: Sequence[Column], rows: Sequence[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f'<th class="{_align(c)}">{html.escape(c[0])}</th>' for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{_align(c)}">{html.escape(cell(c[1](row)))}</td>' for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _align(column: Column) -> str:
    return "text" if column[2] else "number"


def _channel_section(report: ChannelReport, figures: list[tuple[str, go.Figure | None]]) -> str:
    cid = report.channel.tg_channel_id
    parts = [f"<section><h2>{html.escape(report.channel.label)}</h2>"]
    for i, (caption, fig) in enumerate(figures, 1):
        parts.append(f"<figure><figcaption>{html.escape(caption)}</figcaption>")
        if fig is None:
            parts.append('<p class="empty">nothing observed to draw</p>')
        else:
            parts.append(
                pio.to_html(
                    fig,
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"chart-{cid}-{i}",
                    config=CONFIG,
                    default_height="360px",
                )
            )
        parts.append("</figure>")
    parts += [
        "<h3>Per day</h3>",
        _html_table(DAY_COLUMNS, report.days.dicts(), "no day observed"),
        "<h3>Invite links (all-time figures)</h3>",
        _html_table(LINK_COLUMNS, report.links.dicts(), "no join through an invite link"),
        "<h3>Posts</h3>",
        _html_table(POST_COLUMNS, report.posts.dicts(), "no posts"),
        "</section>",
    ]
    return "\n".join(parts)


def _page(options: ReportOptions, sections: list[str]) -> str:
    since = options.since.isoformat() if options.since else "the first day observed"
    until = options.until.isoformat() if options.until else "the last"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    body = "\n".join(sections) or '<p class="empty">no channels in the database</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tgstat report</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>tgstat report</h1>
<p>UTC days from {since} to {until}; made {made} UTC from the metric views
(docs/metrics.md).</p>
<p class="legend">{html.escape(LEGEND)}</p>
{body}
</body></html>
"""
