"""The lake's files on a local disk: durable creation, batched reads, listings that skip
what is not a regular file, and the sweep of temp files left by killed writers."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from tgstat.domain.lake import parse_update

TEMP_SUFFIX = ".tmp"
"""Temp files are ``.<final name>.<uuid hex>.tmp`` beside their final file."""

_READ_AHEAD = 256
"""Raw files opened (and announced to the kernel with WILLNEED) at once: cold reads of
many tiny files overlap instead of waiting one by one."""


def temp_beside(final: Path) -> Path:
    """A fresh temp name for ``final``, hidden from listings (dot-named)."""
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def durable_create(directory: Path, final: Path, body: bytes) -> bool:
    """Write ``final`` once: temp file written in full, fsynced and size-checked, then
    hard-linked into place (fails if it exists). An existing file that is not a complete
    update (cut short by a full disk under an older version) is replaced. Returns False
    when a complete file was there already; raises OSError, leaving no file behind."""
    if complete(read_if_exists(final), body):
        return False
    directory.mkdir(parents=True, exist_ok=True)
    temp = temp_beside(final)
    try:
        _write_fully(temp, body)
        try:
            os.link(temp, final)
        except FileExistsError:
            if complete(read_if_exists(final), body):
                return False  # a concurrent request for the same update won
            os.replace(temp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    fsync_dir(directory)
    return True


def _write_fully(path: Path, body: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        rest = memoryview(body)
        while rest:
            written = os.write(fd, rest)  # may write less than asked: a full disk, a limit
            if written <= 0:
                raise OSError(errno.ENOSPC, "no byte written")
            rest = rest[written:]
        os.fsync(fd)
        size = os.fstat(fd).st_size
        if size != len(body):
            raise OSError(errno.EIO, f"{size} of {len(body)} bytes on disk")
    finally:
        os.close(fd)


def read_if_exists(path: Path) -> bytes | None:
    """The file's bytes; None when there is no such file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def complete(stored: bytes | None, body: bytes) -> bool:
    """True when ``stored`` (a file already under the update's name) is the update: the same
    bytes, or another complete update (a resend keeps the first); False when there is none
    or it was cut short."""
    return stored is not None and (stored == body or parse_update(stored) is not None)


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a new or renamed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_json(directory: str) -> tuple[list[str], list[str]]:
    """(regular ``*.json`` files, other entries named ``*.json``: directories, symlinks,
    sockets...) of ``directory``, dot-named ones left out; FileNotFoundError if none."""
    names: list[str] = []
    ignored: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            (names if entry.is_file(follow_symlinks=False) else ignored).append(entry.name)
    return sorted(names), sorted(ignored)


def sweep_temps(directory: Path, older_than_s: float) -> list[str]:
    """Remove the temp files of ``directory`` that no live writer holds (see ``hold``) and
    that nobody modified for ``older_than_s`` seconds; their names."""
    removed = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)):
                continue
            with contextlib.suppress(FileNotFoundError):
                stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > older_than_s
                if stale and entry.is_file(follow_symlinks=False) and _unheld(entry.path):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def hold(fd: int) -> None:
    """Mark an open temp file as being written: ``sweep_temps`` leaves it alone until the
    writer closes it (or dies: the kernel drops the lock with the process)."""
    fcntl.flock(fd, fcntl.LOCK_EX)  # a sweep holds its lock for a moment only


def _unheld(path: str) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # drops our lock too
    return True


def read_many(directory: str, names: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the files ``names`` of ``directory``, in order, read ahead."""
    for start in range(0, len(names), _READ_AHEAD):
        yield from _read_local(directory, names[start : start + _READ_AHEAD])


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
