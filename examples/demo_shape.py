"""Checks and layout of the demo scenario written by make_demo.py (split out to keep it short).

``check`` asserts that the default demo shows every shape it is meant to; ``render`` writes the
scenario as readable JSON, one line per channel field, post field and admin-log event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class _Window(Protocol):
    @property
    def start(self) -> datetime: ...


ALBUMS = 3
"""Posts that become albums in the default demo: 2-4 photo/video messages sharing one
grouped_id (make_demo.py imports it from here)."""


def iso(t: datetime) -> str:
    """UTC ISO 8601 with a Z, the scenario format's spelling."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(scenario: dict[str, Any], window: _Window) -> None:
    """The demo shows every shape it is meant to (a new seed could lose one)."""
    log = scenario["admin_log"]
    assert {e["action"] for e in log} == {
        "join",
        "join_by_invite",
        "join_by_request",
        "invite",
        "leave",
        "kick",
    }
    ids = [e["id"] for e in log]
    dates = [e["date"] for e in log]
    assert ids == sorted(set(ids))
    assert dates == sorted(set(dates))
    assert dates[0] >= iso(window.start - timedelta(hours=48))
    seen: dict[int, list[str]] = {}
    for e in log:
        seen.setdefault(e["user"]["id"], []).append(e["action"])
    rejoins = [a for a in seen.values() if "leave" in a[1:-1] and a[0] != "leave"]
    assert any(a[-1] in ("join_by_invite", "join_by_request") for a in rejoins)
    assert any(a == ["leave"] for a in seen.values())
    assert any(a[0] != "leave" and "kick" in a for a in seen.values())
    invites = [e.get("invite") for e in log if e["action"] == "join_by_request"]
    assert None in invites
    assert any(invites)
    links = [e["invite"] for e in log if e["action"] == "join_by_invite"]
    assert any(i["title"] for i in links)
    assert any(i["via_chatlist"] for i in links)
    assert any(e["user"].get("bot") for e in log)
    posts = scenario["posts"]
    assert [p["id"] for p in posts] == sorted(p["id"] for p in posts)
    assert any(p.get("discussion") is False for p in posts)
    albums: dict[int, list[dict[str, Any]]] = {}
    for p in posts:
        if "grouped_id" in p:
            albums.setdefault(p["grouped_id"], []).append(p)
    assert len(albums) == ALBUMS
    assert all(len(a) >= 2 and len({p["date"] for p in a}) == 1 for a in albums.values())
    assert sum("deleted_at" in p for p in posts) == 1
    senders = ("user_id", "channel_id", "anonymous")
    kinds = {
        next((k for k in senders if k in c), "none") for p in posts for c in p.get("comments", [])
    }
    assert kinds == {*senders, "none"}
    for p in posts:
        comments = p.get("comments", [])
        cids = [c["id"] for c in comments]
        assert cids == sorted(set(cids))
        assert all(p["date"] < c["date"] < p.get("deleted_at", "~") for c in comments)
    counts = [n for _, n in scenario["channel"]["subscribers"]]
    assert min(counts) > 0


def render(scenario: dict[str, Any]) -> str:
    """Readable JSON: one line per channel field, post field and admin-log event; the
    subscriber timeline six points a line."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    channel = scenario["channel"]
    points = [dump(p) for p in channel["subscribers"]]
    rows = [", ".join(points[i : i + 6]) for i in range(0, len(points), 6)]
    fields = [f"{dump(k)}: {dump(v)}" for k, v in channel.items() if k != "subscribers"]
    fields.append('"subscribers": [' + ",\n    ".join(rows) + "]")
    head = [' "channel": {' + ",\n  ".join(fields) + "},"]
    head += [f" {dump(k)}: {dump(scenario[k])}," for k in ("start", "end", "interval_s")]
    posts = []
    for p in scenario["posts"]:
        fields = [f"{dump(k)}: {dump(v)}" for k, v in p.items()]
        posts.append("  {" + ",\n   ".join(fields) + "}")
    events = [f"  {dump(e)}" for e in scenario["admin_log"]]
    return "\n".join(
        [
            "{",
            *head,
            ' "posts": [',
            ",\n".join(posts),
            " ],",
            ' "admin_log": [',
            ",\n".join(events),
            " ]",
            "}",
            "",
        ]
    )
