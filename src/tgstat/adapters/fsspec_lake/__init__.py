"""FsspecLakeStore: the lake on a local directory (durable, atomic) or on S3 via fsspec."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import pyarrow.parquet as pq

from tgstat.adapters.fsspec_lake import local
from tgstat.adapters.fsspec_lake.errors import describe, store_errors
from tgstat.adapters.fsspec_lake.schema import (
    COLUMNS,
    EVENT_SCHEMA,
    PART,
    SCHEMA,
    events_table,
    messages_table,
)
from tgstat.domain.lake_rows import DayFiles, RowBatch
from tgstat.ports.lake import LakeError, LakeStore, RawListing, Table

__all__ = [
    "COLUMNS",
    "EVENT_SCHEMA",
    "PART",
    "SCHEMA",
    "FsspecLakeStore",
    "describe",
    "store_errors",
]


def _partition(day: date) -> str:
    return f"context_date={day.isoformat()}"


class FsspecLakeStore(LakeStore):
    """Lake root ``root``: a local path, or any fsspec URL (``s3://bucket/prefix``).

    Local writes go to a dot-named temporary file, are fsynced, then linked or renamed
    into place (and the directory fsynced), so readers never see a partial file. Object
    stores are atomic per object already.
    """

    def __init__(self, root: str, **storage_options: Any) -> None:
        self._fs, path = fsspec.core.url_to_fs(root, **storage_options)
        self._root = path.rstrip("/")
        self._local = "file" in (
            self._fs.protocol if isinstance(self._fs.protocol, tuple) else (self._fs.protocol,)
        )
        self._url = root.rstrip("/")

    def _dir(self, area: str, day: date, table: Table = "telegram") -> str:
        return f"{self._root}/{area}/{table}/{_partition(day)}"

    def put_raw(self, day: date, update_id: int, body: bytes) -> bool:
        directory = self._dir("raw", day)
        final = f"{directory}/{update_id}.json"
        try:
            if self._local:
                return local.durable_create(Path(directory), Path(final), body)
            if local.complete(self._cat_if_exists(final), body):
                return False
            self._fs.pipe_file(final, body)
            return True
        except OSError as e:
            raise LakeError(f"cannot store update {update_id} under {self._url}: {e}") from e

    def _cat_if_exists(self, path: str) -> bytes | None:
        try:
            body: bytes = self._fs.cat_file(path)
        except FileNotFoundError:
            return None
        return body

    def raw_names(self, day: date) -> Sequence[str]:
        return self.list_raw(day).names

    def list_raw(self, day: date) -> RawListing:
        directory = self._dir("raw", day)
        try:
            if self._local:
                return RawListing(*local.list_json(directory))
            # fsspec caches listings (and filesystem instances): a long-lived process
            # would miss files the webhook wrote since its first listing.
            self._fs.invalidate_cache(directory)
            if not self._fs.exists(directory):
                return RawListing([], [])
            return _split_listing(self._fs.ls(directory, detail=True))
        except FileNotFoundError:
            return RawListing([], [])
        except OSError as e:
            raise LakeError(f"cannot list {directory}: {e}") from e

    def sweep_temps(self, day: date, older_than: timedelta) -> Sequence[str]:
        dirs = [self._dir("raw", day)]
        dirs += [self._dir("enriched", day, table) for table in ("telegram", "telegram_event")]
        removed: list[str] = []
        try:
            for directory in dirs:
                if self._local:
                    found = local.sweep_temps(Path(directory), older_than.total_seconds())
                else:
                    found = self._sweep_remote(directory, older_than)
                removed += (f"{directory}/{name}" for name in found)
        except OSError as e:
            raise LakeError(f"cannot remove stale temp files of {day}: {e}") from e
        return removed

    def _sweep_remote(self, directory: str, older_than: timedelta) -> list[str]:
        # objects appear whole; a temp object is left only by a writer killed between
        # writing it and moving it into place
        self._fs.invalidate_cache(directory)
        if not self._fs.exists(directory):
            return []
        removed = []
        for path in self._fs.ls(directory, detail=False):
            name = path.rsplit("/", 1)[-1]
            if name.startswith(".") and name.endswith(local.TEMP_SUFFIX):
                age = time.time() - self._fs.modified(path).timestamp()
                if age > older_than.total_seconds():
                    self._fs.rm(path)
                    removed.append(name)
        return removed

    def read_raw(self, day: date, names: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        directory = self._dir("raw", day)
        try:
            if self._local:
                yield from local.read_many(directory, names)
                return
            if not names:
                return
            paths = [f"{directory}/{n}" for n in names]
            found = self._fs.cat(paths)  # one concurrent batch request on object stores
            for name, path in zip(names, paths, strict=True):
                yield name, found[path]
        except OSError as e:
            raise LakeError(f"cannot read raw updates of {day} under {self._url}: {e}") from e

    def quarantine(self, day: date, name: str) -> None:
        target_dir = self._dir("quarantine", day)
        try:
            self._fs.makedirs(target_dir, exist_ok=True)
            self._fs.mv(f"{self._dir('raw', day)}/{name}", f"{target_dir}/{name}")
        except OSError as e:
            raise LakeError(f"cannot quarantine {name} of {day}: {e}") from e

    def write_enriched(self, day: date, batches: Iterable[RowBatch]) -> DayFiles:
        dirs = [self._dir("enriched", day, table) for table in ("telegram", "telegram_event")]
        temps = [f"{d}/.{PART}.{uuid.uuid4().hex}{local.TEMP_SUFFIX}" for d in dirs]
        try:
            for directory in dirs:
                self._fs.makedirs(directory, exist_ok=True)
            with contextlib.ExitStack() as stack:
                outs = [stack.enter_context(self._fs.open(t, "wb")) for t in temps]
                if self._local:  # a sweep by another run leaves them alone while we write
                    for out in outs:
                        local.hold(out.fileno())
                messages, events = (
                    stack.enter_context(pq.ParquetWriter(out, schema, compression="zstd"))
                    for out, schema in zip(outs, (SCHEMA, EVENT_SCHEMA), strict=True)
                )
                for batch in batches:
                    if batch.messages:
                        messages.write_table(messages_table(batch.messages))
                    if batch.events:
                        events.write_table(events_table(batch.events))
                messages.close()
                events.close()
                for out in outs:
                    self._sync(out)
            for temp, directory in zip(temps, dirs, strict=True):
                self._publish(temp, f"{directory}/{PART}")
        except OSError as e:
            raise LakeError(f"cannot write the enriched partitions of {day}: {e}") from e
        finally:
            for temp in temps:
                with contextlib.suppress(OSError):
                    if self._fs.exists(temp):
                        self._fs.rm(temp)
        partition = _partition(day)
        return DayFiles(
            messages=f"{self._url}/enriched/telegram/{partition}/{PART}",
            events=f"{self._url}/enriched/telegram_event/{partition}/{PART}",
        )

    def _sync(self, out: BinaryIO) -> None:
        if self._local:
            out.flush()
            os.fsync(out.fileno())

    def _publish(self, temp: str, final: str) -> None:
        if self._local:
            os.replace(temp, final)
            local.fsync_dir(Path(final).parent)
        else:
            self._fs.mv(temp, final)

    def enriched_glob(self, table: Table = "telegram") -> str:
        return f"{self._url}/enriched/{table}/*/*.parquet"

    def load_state(self, name: str) -> bytes | None:
        path = f"{self._root}/state/{name}"
        try:
            if self._local:
                return Path(path).read_bytes()
            self._fs.invalidate_cache(f"{self._root}/state")
            body: bytes = self._fs.cat_file(path)
            return body
        except FileNotFoundError:
            return None
        except OSError as e:
            raise LakeError(f"cannot read {self._url}/state/{name}: {e}") from e

    def save_state(self, name: str, body: bytes) -> None:
        directory = f"{self._root}/state"
        try:
            if not self._local:
                self._fs.pipe_file(f"{directory}/{name}", body)
                return
            Path(directory).mkdir(parents=True, exist_ok=True)
            temp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
            try:
                with open(temp, "wb") as out:
                    out.write(body)
                    self._sync(out)
                self._publish(temp, f"{directory}/{name}")
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        except OSError as e:
            raise LakeError(f"cannot save {self._url}/state/{name}: {e}") from e


def _split_listing(entries: Sequence[dict[str, Any]]) -> RawListing:
    names: list[str] = []
    ignored: list[str] = []
    for entry in entries:
        name = str(entry["name"]).rsplit("/", 1)[-1]
        if name.endswith(".json") and not name.startswith("."):
            (names if entry.get("type") == "file" else ignored).append(name)
    return RawListing(sorted(names), sorted(ignored))
