"""A scenario file (docs/scenario-format.md) parsed and validated into frozen values.

Every error names the JSON path of the offending value (``posts[2].comments[0].user_id``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from tgstat.adapters.replay.admin_log import ScriptedEvent, parse_event
from tgstat.adapters.replay.fields import (
    ScenarioError,
    Timeline,
    instant,
    integer,
    items,
    obj,
    shown,
    text,
)
from tgstat.adapters.replay.posts import ScriptedPost, discussion_group_id, parse_post
from tgstat.domain.ids import ChannelId
from tgstat.ports.gateway import ChannelInfo

CALL_KINDS = ("posts", "counters", "comments", "admin_log", "channel")
"""Request kinds of the replay gateway; a fault may target any of them (or ``any``)."""
FAULT_KINDS = ("flood_wait", "disconnect", "banned")


@attrs.frozen
class Fault:
    at: datetime
    call: str
    kind: str
    seconds: float = 0.0


@attrs.frozen
class Scenario:
    """A parsed scenario file (docs/scenario-format.md)."""

    channel: ChannelInfo
    start: datetime
    end: datetime
    interval: timedelta
    posts: tuple[ScriptedPost, ...]
    admin_log: tuple[ScriptedEvent, ...]
    faults: tuple[Fault, ...]
    subscribers: Timeline = attrs.field(factory=Timeline.empty)
    """``channel.subscribers``: the subscriber count over time (0 when missing)."""

    @property
    def discussion_group_id(self) -> int:
        return discussion_group_id(self.channel.id)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ScenarioError(f"cannot read scenario {path}: {e.strerror}") from e
        except ValueError as e:
            raise ScenarioError(f"scenario {path} is not valid JSON: {e}") from e
        except RecursionError as e:
            raise ScenarioError(f"scenario {path} nests arrays or objects too deeply") from e
        return cls.parse(raw)

    @classmethod
    def parse(cls, raw: Any) -> Scenario:
        """Validate and parse; raises ScenarioError naming the JSON path of a bad value."""
        try:
            return _parse_scenario(obj(raw, "scenario"))
        except (KeyError, TypeError, AttributeError) as e:
            raise ScenarioError(f"scenario is missing or mistypes a field: {e}") from e

    def ticks(self) -> list[datetime]:
        """start, start + interval, ... up to and including end."""
        out, t = [], self.start
        while t <= self.end:
            out.append(t)
            t += self.interval
        return out


MAX_TICKS = 250_000
"""Runs a replay takes at most (over two years at 300 s): a bound on time and memory."""


def _parse_scenario(raw: Mapping[str, Any]) -> Scenario:
    ch = obj(raw.get("channel"), "channel")
    # the channel's collection lock keys on its id below 2**48 (bare Telegram channel ids)
    channel_id = integer(ch.get("id"), "channel.id", maximum=2**48 - 1)
    interval = integer(raw.get("interval_s", 300), "interval_s")
    start, end = instant(raw.get("start"), "start"), instant(raw.get("end"), "end")
    if end < start:
        raise ScenarioError("end is before start")
    ticks = (end - start) // timedelta(seconds=interval) + 1
    if ticks > MAX_TICKS:
        raise ScenarioError(
            f"end: {ticks:,} runs from start to end every {interval} s, more than the"
            f" {MAX_TICKS:,} a replay takes (shorten the span or lengthen interval_s)"
        )
    group = discussion_group_id(channel_id)
    posts = tuple(
        parse_post(obj(p, f"posts[{i}]"), f"posts[{i}]", group)
        for i, p in enumerate(items(raw.get("posts"), "posts"))
    )
    if len({p.id for p in posts}) != len(posts):
        raise ScenarioError("posts: post ids must be unique")
    events = tuple(
        parse_event(obj(e, f"admin_log[{i}]"), f"admin_log[{i}]")
        for i, e in enumerate(items(raw.get("admin_log"), "admin_log"))
    )
    if len({e.id for e in events}) != len(events):
        raise ScenarioError("admin_log: event ids must be unique")
    faults = tuple(
        _parse_fault(obj(f, f"faults[{i}]"), f"faults[{i}]")
        for i, f in enumerate(items(raw.get("faults"), "faults"))
    )
    return Scenario(
        channel=ChannelInfo(
            ChannelId(channel_id),
            text(ch, "title", "channel") or str(channel_id),
            text(ch, "username", "channel"),
        ),
        start=start,
        end=end,
        interval=timedelta(seconds=interval),
        posts=tuple(sorted(posts, key=lambda p: p.id)),
        admin_log=tuple(sorted(events, key=lambda e: e.id)),
        faults=faults,
        subscribers=Timeline.parse(ch.get("subscribers"), "channel.subscribers"),
    )


def _parse_fault(raw: Mapping[str, Any], where: str) -> Fault:
    if raw.get("call") not in (*CALL_KINDS, "any"):
        raise ScenarioError(f"{where}.call: unknown call {shown(raw.get('call'))}")
    if raw.get("kind") not in FAULT_KINDS:
        raise ScenarioError(f"{where}.kind: unknown fault kind {shown(raw.get('kind'))}")
    seconds = raw.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ScenarioError(f"{where}.seconds: expected a number >= 0, got {shown(seconds)}")
    return Fault(instant(raw.get("at"), f"{where}.at"), raw["call"], raw["kind"], float(seconds))
