"""FsspecLakeStore: the lake on a local directory (durable, atomic) or on S3 via fsspec."""

from __future__ import annotations

import contextlib
import operator
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from tgstat.domain.lake_rows import DayFiles, FlatEvent, FlatMessage, RowBatch
from tgstat.ports.lake import LakeError, LakeStore, Table

SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64()),
        pa.field("user_is_bot", pa.bool_()),
        pa.field("user_first_name", pa.string()),
        pa.field("chat_id", pa.int64(), nullable=False),
        pa.field("chat_type", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("date", pa.int64(), nullable=False),
        pa.field("update_id", pa.int64(), nullable=False),
        pa.field("update_kind", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("is_service", pa.bool_(), nullable=False),
        pa.field("caption", pa.string()),
        pa.field("sender_chat_id", pa.int64()),
        pa.field("sender_chat_type", pa.string()),
        pa.field("reply_to_message_id", pa.int64()),
        pa.field("message_thread_id", pa.int64()),
        pa.field("is_topic_message", pa.bool_(), nullable=False),
        pa.field("media_group_id", pa.string()),
        pa.field("forward_origin_type", pa.string()),
        pa.field("forward_origin_id", pa.int64()),
        pa.field("forward_date", pa.int64()),
        pa.field("is_automatic_forward", pa.bool_(), nullable=False),
        pa.field("edit_date", pa.int64()),
        pa.field("migrate_to_chat_id", pa.int64()),
        pa.field("migrate_from_chat_id", pa.int64()),
        pa.field("user_username", pa.string()),
        pa.field("user_language_code", pa.string()),
        pa.field("user_is_premium", pa.bool_()),
    ]
)
"""Table ``telegram`` (DESIGN.md 6): the reference design's 8 columns, then the rest."""
EVENT_SCHEMA = pa.schema(
    [
        pa.field("update_id", pa.int64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("chat_id", pa.int64()),
        pa.field("user_id", pa.int64()),
        pa.field("date", pa.int64()),
        pa.field("raw_update", pa.string(), nullable=False),
    ]
)
"""Table ``telegram_event``: every update that is not a message."""
COLUMNS = SCHEMA.names
PART = "part-0.parquet"
_MESSAGE_VALUES = operator.attrgetter(*SCHEMA.names)
_EVENT_VALUES = operator.attrgetter(*EVENT_SCHEMA.names)


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
                return _durable_create(Path(directory), Path(final), body)
            if self._fs.exists(final):
                return False
            self._fs.pipe_file(final, body)
            return True
        except OSError as e:
            raise LakeError(f"cannot store update {update_id} under {self._url}: {e}") from e

    def raw_names(self, day: date) -> Sequence[str]:
        directory = self._dir("raw", day)
        try:
            if self._local:
                names = os.listdir(directory)
            else:
                # fsspec caches listings (and filesystem instances): a long-lived process
                # would miss files the webhook wrote since its first listing.
                self._fs.invalidate_cache(directory)
                if not self._fs.exists(directory):
                    return []
                names = [p.rsplit("/", 1)[-1] for p in self._fs.ls(directory, detail=False)]
        except FileNotFoundError:
            return []
        except OSError as e:
            raise LakeError(f"cannot list {directory}: {e}") from e
        return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))

    def read_raw(self, day: date, names: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        directory = self._dir("raw", day)
        try:
            if self._local:
                for start in range(0, len(names), _READ_AHEAD):
                    yield from _read_local(directory, names[start : start + _READ_AHEAD])
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
        temps = [f"{d}/.{PART}.{uuid.uuid4().hex}.tmp" for d in dirs]
        try:
            for directory in dirs:
                self._fs.makedirs(directory, exist_ok=True)
            with contextlib.ExitStack() as stack:
                outs = [stack.enter_context(self._fs.open(t, "wb")) for t in temps]
                messages, events = (
                    stack.enter_context(pq.ParquetWriter(out, schema, compression="zstd"))
                    for out, schema in zip(outs, (SCHEMA, EVENT_SCHEMA), strict=True)
                )
                for batch in batches:
                    if batch.messages:
                        messages.write_table(_messages_table(batch.messages))
                    if batch.events:
                        events.write_table(_events_table(batch.events))
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
            _fsync_dir(Path(final).parent)
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


def _messages_table(rows: Sequence[FlatMessage]) -> pa.Table:
    columns = zip(*map(_MESSAGE_VALUES, rows), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
    )


def _events_table(rows: Sequence[FlatEvent]) -> pa.Table:
    columns = zip(*map(_EVENT_VALUES, rows), strict=True)
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )


_READ_AHEAD = 256
"""Raw files opened (and announced to the kernel with WILLNEED) at once: cold reads of
many tiny files overlap instead of waiting one by one."""


def _read_local(directory: str, names: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    fds: list[int] = []
    try:
        for name in names:
            fds.append(os.open(f"{directory}/{name}", os.O_RDONLY))
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fds[-1], 0, 0, os.POSIX_FADV_WILLNEED)
        for name, fd in zip(names, fds, strict=True):
            yield name, _read_fd(fd)
    finally:
        for fd in fds:
            os.close(fd)


def _read_fd(fd: int, chunk: int = 65536) -> bytes:
    parts = [os.read(fd, chunk)]
    while len(parts[-1]) == chunk:
        parts.append(os.read(fd, chunk))
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _durable_create(directory: Path, final: Path, body: bytes) -> bool:
    """Write ``final`` exactly once: temp file, fsync, hard link (fails if it exists)."""
    if final.exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{final.name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, final)
        created = True
    except FileExistsError:
        created = False  # a concurrent request for the same update won
    finally:
        os.unlink(temp)
    _fsync_dir(directory)
    return created


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
