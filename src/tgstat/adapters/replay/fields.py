"""Checked reads of a scenario's JSON values; every error names the value's JSON path."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from tgstat.domain.errors import TgstatError


class ScenarioError(TgstatError):
    """Raised when a scenario file cannot be read or breaks docs/scenario-format.md."""


SHOWN_MAX_CHARS = 80
"""A bad value is quoted in an error up to this many characters (a 3 MB object is not)."""


def shown(value: Any) -> str:
    """``repr(value)``, cut to ``SHOWN_MAX_CHARS`` with an ellipsis and the full length."""
    text = repr(value)
    if len(text) <= SHOWN_MAX_CHARS:
        return text
    return f"{text[:SHOWN_MAX_CHARS]}... ({len(text):,} characters)"


def instant(raw: Any, where: str) -> datetime:
    """An aware datetime from an ISO 8601 string with a zone."""
    if not isinstance(raw, str):
        raise ScenarioError(f"{where}: expected an ISO 8601 time, got {shown(raw)}")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"{where}: not an ISO 8601 time: {shown(raw)}") from None
    if value.tzinfo is None:
        raise ScenarioError(f"{where}: time without a zone: {shown(raw)}")
    return value


BIGINT_MAX = 2**63 - 1
"""Ids and counters are stored as PostgreSQL bigint."""


def integer(raw: Any, where: str, *, minimum: int = 1, maximum: int = BIGINT_MAX) -> int:
    """An integer (not a boolean) from ``minimum`` to ``maximum``."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not minimum <= raw <= maximum:
        raise ScenarioError(
            f"{where}: expected an integer from {minimum} to {maximum}, got {shown(raw)}"
        )
    return raw


def flag(raw: Mapping[str, Any], key: str, where: str, *, default: bool = False) -> bool:
    """``raw[key]``: true or false, ``default`` when absent."""
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}: expected true or false, got {shown(value)}")
    return value


def obj(raw: Any, where: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected an object, got {shown(raw)}")
    return raw


def text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    """``raw[key]``: a string, or None when null or absent."""
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ScenarioError(f"{where}.{key}: expected a string or null, got {shown(value)}")
    if value is not None:
        _storable(value, f"{where}.{key}")
    return value


def _storable(value: str, where: str) -> None:
    """Text PostgreSQL can store: UTF-8 (no lone surrogate) without NUL characters."""
    if "\x00" in value:
        raise ScenarioError(f"{where}: a NUL character (U+0000) cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ScenarioError(f"{where}: not valid Unicode (a lone surrogate)") from None


def items(raw: Any, where: str) -> list[Any]:
    """A JSON list (empty when null or absent)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScenarioError(f"{where}: expected a list, got {shown(raw)}")
    return raw


def maybe_flag(raw: Mapping[str, Any], key: str, where: str) -> bool | None:
    """``raw[key]``: true, false, or None when null or absent."""
    value = raw.get(key)
    if value is not None and not isinstance(value, bool):
        raise ScenarioError(f"{where}.{key}: expected true, false or null, got {shown(value)}")
    return value


@attrs.frozen
class Timeline:
    """A step function: the value of the last point at or before T, 0 before the first."""

    times: tuple[datetime, ...]
    values: tuple[int, ...]

    @classmethod
    def empty(cls) -> Timeline:
        """Always 0."""
        return cls((), ())

    @classmethod
    def parse(cls, raw: Any, where: str) -> Timeline:
        """Points in any order, each ``[time, integer >= 0]``; None: always 0."""
        if raw is None:
            return cls.empty()
        if not isinstance(raw, list):
            raise ScenarioError(f"{where}: a timeline is a list of [time, value] pairs")
        points = []
        for i, point in enumerate(raw):
            if not (isinstance(point, list) and len(point) == 2):
                raise ScenarioError(f"{where}[{i}]: expected [time, integer], got {shown(point)}")
            value = integer(point[1], f"{where}[{i}][1]", minimum=0)
            points.append((instant(point[0], f"{where}[{i}][0]"), value))
        points.sort(key=lambda p: p[0])
        return cls(tuple(t for t, _ in points), tuple(v for _, v in points))

    def at(self, moment: datetime) -> int:
        i = bisect.bisect_right(self.times, moment)
        return self.values[i - 1] if i else 0
