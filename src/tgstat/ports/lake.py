"""The lake storage port: raw updates by day, enriched Parquet by day, a quarantine, and
small state documents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Literal, NamedTuple, Protocol

from tgstat.domain.errors import TgstatError
from tgstat.domain.lake_rows import DayFiles, RowBatch

Table = Literal["telegram", "telegram_event"]


class LakeError(TgstatError):
    """Raised when the lake storage cannot be read or written."""


class RawListing(NamedTuple):
    """A day's raw partition: the update files, and entries that are not regular files."""

    names: Sequence[str]
    """File names of the day's raw updates (regular ``*.json`` files), sorted."""
    ignored: Sequence[str]
    """Entries named like updates that are not regular files (a directory ``x.json``, a
    symlink...), sorted: never read."""


class LakeStore(Protocol):
    """Layout under the lake root (hive partitions, one calendar day each):

    - ``raw/telegram/context_date=YYYY-MM-DD/<update_id>.json``: updates as received;
    - ``enriched/telegram/context_date=YYYY-MM-DD/part-0.parquet``: message rows;
    - ``enriched/telegram_event/context_date=YYYY-MM-DD/part-0.parquet``: other updates;
    - ``quarantine/telegram/context_date=YYYY-MM-DD/<name>``: raw files that failed to parse;
    - ``state/<name>``: small documents the ingest keeps (the chat filter's migrations).
    """

    def put_raw(self, day: date, update_id: int, body: bytes) -> bool:
        """Store ``body`` durably (every byte written, synced, size checked) before
        returning; False when that update is already stored complete. A stored file that
        is not a complete update (cut short by an older version) is replaced.

        Never exposes a partial file under its final name; on any failure raises
        LakeError and leaves no file a resend would take for stored.
        """
        ...

    def raw_names(self, day: date) -> Sequence[str]:
        """File names of the day's raw updates, sorted (``list_raw(day).names``)."""
        ...

    def list_raw(self, day: date) -> RawListing:
        """The day's raw updates, and the entries skipped because they are not files."""
        ...

    def sweep_temps(self, day: date, older_than: timedelta) -> Sequence[str]:
        """Remove the temp files that killed writers left in the day's raw and enriched
        partitions: unmodified for ``older_than`` and held by no live writer (a running
        ETL or webhook keeps its own). Returns the names removed."""
        ...

    def read_raw(self, day: date, names: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """(name, bytes) of the given raw files, in order."""
        ...

    def quarantine(self, day: date, name: str) -> None:
        """Move a raw file out of the day's partition into the quarantine."""
        ...

    def write_enriched(self, day: date, batches: Iterable[RowBatch]) -> DayFiles:
        """Replace the day's two enriched partitions with the rows of ``batches`` (streamed,
        one Parquet row group per batch and table), each file atomically."""
        ...

    def enriched_glob(self, table: Table = "telegram") -> str:
        """A glob over every enriched Parquet file of ``table``, for query engines."""
        ...

    def load_state(self, name: str) -> bytes | None:
        """The state document ``name``; None when none was saved yet."""
        ...

    def save_state(self, name: str, body: bytes) -> None:
        """Replace the state document ``name`` durably and atomically."""
        ...
