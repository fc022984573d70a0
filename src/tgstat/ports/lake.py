"""The lake storage port: raw updates by day, enriched Parquet by day, a quarantine, and
small state documents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Literal, Protocol

from tgstat.domain.errors import TgstatError
from tgstat.domain.lake_rows import DayFiles, RowBatch

Table = Literal["telegram", "telegram_event"]


class LakeError(TgstatError):
    """Raised when the lake storage cannot be read or written."""


class LakeStore(Protocol):
    """Layout under the lake root (hive partitions, one calendar day each):

    - ``raw/telegram/context_date=YYYY-MM-DD/<update_id>.json``: updates as received;
    - ``enriched/telegram/context_date=YYYY-MM-DD/part-0.parquet``: message rows;
    - ``enriched/telegram_event/context_date=YYYY-MM-DD/part-0.parquet``: other updates;
    - ``quarantine/telegram/context_date=YYYY-MM-DD/<name>``: raw files that failed to parse;
    - ``state/<name>``: small documents the ingest keeps (the chat filter's migrations).
    """

    def put_raw(self, day: date, update_id: int, body: bytes) -> bool:
        """Store ``body`` durably before returning; False when that update is already stored.

        Never exposes a partial file under its final name.
        """
        ...

    def raw_names(self, day: date) -> Sequence[str]:
        """File names of the day's raw updates, sorted."""
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
