"""The daily lake ETL: one day of raw updates into the day's two enriched Parquet
partitions, ``telegram`` (messages) and ``telegram_event`` (every other update)."""

from __future__ import annotations

import logging
import operator
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import attrs

from tgstat.domain.lake import MESSAGE_KINDS, UNKNOWN_KIND, parse_update, update_kind
from tgstat.domain.lake_rows import DayFiles, FlatEvent, FlatMessage, RowBatch, flatten, to_event
from tgstat.ports.lake import LakeStore

STALE_TEMP_AGE = timedelta(minutes=10)
"""A temp file of the day nobody holds nor modified for this long is a killed writer's."""
_INT64 = range(-(2**63), 2**63)  # only ever asked about ints: fast
log = logging.getLogger(__name__)
_MESSAGE_VALUES = operator.attrgetter(*attrs.fields_dict(FlatMessage))


@attrs.frozen
class EtlReport:
    """What one ETL run of a day did."""

    day: date
    files: int
    """Raw files found in the day's partition (quarantined and skipped ones included)."""
    messages: int
    """Rows written to ``telegram``: one per message update."""
    events: int
    """Rows written to ``telegram_event``: one per other update, and per malformed message."""
    kinds: Mapping[str, int]
    """Updates flattened, by kind (``message``, ``edited_message``, ``chat_member``...)."""
    malformed: int
    """Message updates without a storable row (no chat id, an id beyond int64, a lone
    surrogate in a string...): written to ``telegram_event`` instead."""
    skipped: int
    """Raw files whose update_id is also in the previous day's raw partition (a retry
    that crossed midnight): flattened there, not here."""
    quarantined: tuple[str, ...]
    """Raw files moved to the quarantine (not JSON, or no int64 ``update_id``)."""
    ignored: tuple[str, ...]
    """Entries of the raw partition named like updates that are not regular files (a
    directory ``x.json``...): left alone, never read."""
    swept: tuple[str, ...]
    """Temp files of killed writers (ETL runs, webhook requests) removed from the day."""
    paths: DayFiles | None
    """The enriched files written; None when the day has no raw files (nothing written)."""

    @property
    def path(self) -> str | None:
        """The ``telegram`` file written, if any."""
        return self.paths.messages if self.paths is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "files": self.files,
            "messages": self.messages,
            "events": self.events,
            "kinds": dict(self.kinds),
            "malformed": self.malformed,
            "skipped": self.skipped,
            "quarantined": list(self.quarantined),
            "ignored": list(self.ignored),
            "swept": list(self.swept),
            "path": self.path,
            "events_path": self.paths.events if self.paths is not None else None,
        }


def run_etl(store: LakeStore, day: date, *, batch_size: int = 5000) -> EtlReport:
    """Replace ``day``'s enriched partitions with one row per raw update of the day, read
    ``batch_size`` files at a time (memory does not grow with the day).

    ``day`` is an arrival day: once it is over its raw partition is complete, so the run
    is final. Running it again rewrites the day, so rows are never duplicated. An update
    whose file is also in the previous day's raw partition is skipped (flattened there).
    A raw file that is not a JSON object with an integer ``update_id`` does not stop the
    day: once the partitions are written it is moved to the quarantine and named in the
    report. A day without raw files writes nothing (existing partitions are left alone).
    Entries that are not regular files are ignored (logged, named in the report); temp
    files that killed writers left in the day are removed first (STALE_TEMP_AGE).
    Raises LakeError when the lake cannot be read or written.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    swept = tuple(store.sweep_temps(day, STALE_TEMP_AGE))
    names, ignored = store.list_raw(day)
    if ignored:
        log.warning("%s: %d entries not regular files, ignored: %s", day, len(ignored), ignored)
    if not names:
        return EtlReport(day, 0, 0, 0, {}, 0, 0, (), tuple(ignored), swept, None)
    previous = frozenset(store.raw_names(day - timedelta(days=1)))
    fresh = [name for name in names if name not in previous]
    tally = _Tally()
    paths = store.write_enriched(day, tally.batches(store, day, fresh, batch_size))
    for name in tally.broken:
        store.quarantine(day, name)
    return EtlReport(
        day,
        files=len(names),
        messages=tally.messages,
        events=tally.events,
        kinds=dict(sorted(tally.kinds.items())),
        malformed=tally.malformed,
        skipped=len(names) - len(fresh),
        quarantined=tuple(tally.broken),
        ignored=tuple(ignored),
        swept=swept,
        paths=paths,
    )


def yesterday(now: datetime, zone: tzinfo) -> date:
    """The calendar day before ``now`` (aware) in ``zone``: the day a daily run processes."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date() - timedelta(days=1)


@attrs.define
class _Tally:
    messages: int = 0
    events: int = 0
    malformed: int = 0
    kinds: Counter[str] = attrs.field(factory=Counter)
    broken: list[str] = attrs.field(factory=list)

    def batches(
        self, store: LakeStore, day: date, names: Sequence[str], batch_size: int
    ) -> Iterator[RowBatch]:
        for start in range(0, len(names), batch_size):
            batch = RowBatch([], [])
            for name, body in store.read_raw(day, names[start : start + batch_size]):
                update = parse_update(body)
                if update is None or update["update_id"] not in _INT64:
                    self.broken.append(name)
                    continue
                kind = update_kind(update)
                if kind in MESSAGE_KINDS:
                    row = flatten(update)
                    if row is not None and _storable(row):
                        self.kinds[kind] += 1
                        batch.messages.append(row)
                        continue
                    self.malformed += 1
                event = _storable_event(to_event(update, body))
                self.kinds[event.kind] += 1
                batch.events.append(event)
            self.messages += len(batch.messages)
            self.events += len(batch.events)
            yield batch


def _storable(row: FlatMessage) -> bool:
    # One value Parquet cannot hold would otherwise fail the whole day's write.
    for value in _MESSAGE_VALUES(row):
        kind = type(value)
        if kind is int:
            if value not in _INT64:
                return False
        elif kind is str and not value.isascii() and not _utf8(value):
            return False
    return True


def _storable_event(event: FlatEvent) -> FlatEvent:
    kind = event.kind if _utf8(event.kind) else UNKNOWN_KIND
    return attrs.evolve(
        event,
        kind=kind,
        chat_id=_within_int64(event.chat_id),
        user_id=_within_int64(event.user_id),
        date=_within_int64(event.date),
    )


def _within_int64(value: int | None) -> int | None:
    return value if value is not None and value in _INT64 else None


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a "\\ud800" escape
        return False
    return True
