"""The daily lake ETL: one day of raw updates into the day's enriched Parquet partition."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import attrs

from tgstat.domain.lake import FlatMessage, flatten, parse_update, update_kind
from tgstat.ports.lake import LakeStore

MALFORMED_MESSAGE = "malformed message"
"""The ``other_kinds`` key of ``message`` updates that have no storable row: no chat id,
an id beyond int64, a lone surrogate in a string... (they stay in raw)."""
_INT64 = range(-(2**63), 2**63)


@attrs.frozen
class EtlReport:
    """What one ETL run of a day did."""

    day: date
    files: int
    """Raw files found in the day's partition (quarantined ones included)."""
    messages: int
    """Rows written: one per ``message`` update."""
    other_kinds: Mapping[str, int]
    """Updates that gave no row, by kind (``edited_message``, ``callback_query``, ...)."""
    quarantined: tuple[str, ...]
    """Raw files moved to the quarantine (not JSON, or no integer ``update_id``)."""
    path: str | None
    """The enriched file written; None when the day has no raw files (nothing written)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "files": self.files,
            "messages": self.messages,
            "other_kinds": dict(self.other_kinds),
            "quarantined": list(self.quarantined),
            "path": self.path,
        }


def run_etl(store: LakeStore, day: date, *, batch_size: int = 5000) -> EtlReport:
    """Replace ``day``'s enriched partition with one row per ``message`` update of its raw
    files, read ``batch_size`` files at a time (memory does not grow with the day).

    Running it again rewrites the day, so rows are never duplicated. A raw file that is not
    a JSON object with an integer ``update_id`` does not stop the day: once the partition is
    written it is moved to the quarantine and named in the report. A day without raw files
    writes nothing (an existing partition is left as it is).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    names = store.raw_names(day)
    if not names:
        return EtlReport(day, files=0, messages=0, other_kinds={}, quarantined=(), path=None)
    tally = _Tally()
    path = store.write_enriched(day, tally.rows(store, day, names, batch_size))
    for name in tally.broken:
        store.quarantine(day, name)
    return EtlReport(
        day,
        files=len(names),
        messages=tally.messages,
        other_kinds=dict(sorted(tally.kinds.items())),
        quarantined=tuple(tally.broken),
        path=path,
    )


def yesterday(now: datetime, zone: tzinfo) -> date:
    """The calendar day before ``now`` (aware) in ``zone``: the day a daily run processes."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date() - timedelta(days=1)


@attrs.define
class _Tally:
    messages: int = 0
    kinds: Counter[str] = attrs.field(factory=Counter)
    broken: list[str] = attrs.field(factory=list)

    def rows(
        self, store: LakeStore, day: date, names: Sequence[str], batch_size: int
    ) -> Iterator[list[FlatMessage]]:
        for start in range(0, len(names), batch_size):
            batch: list[FlatMessage] = []
            for name, body in store.read_raw(day, names[start : start + batch_size]):
                update = parse_update(body)
                if update is None:
                    self.broken.append(name)
                    continue
                row = flatten(update)
                if row is not None and _storable(row):
                    batch.append(row)
                    continue
                kind = update_kind(update)
                self.kinds[MALFORMED_MESSAGE if kind == "message" else kind] += 1
            self.messages += len(batch)
            yield batch


def _storable(row: FlatMessage) -> bool:
    # One value Parquet cannot hold would otherwise fail the whole day's write.
    return (
        row.message_id in _INT64
        and row.chat_id in _INT64
        and row.date in _INT64
        and (row.user_id is None or row.user_id in _INT64)
        and _utf8(row.text)
        and _utf8(row.user_first_name)
        and _utf8(row.chat_type)
    )


def _utf8(text: str | None) -> bool:
    if text is None or text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a "\\ud800" escape
        return False
    return True
