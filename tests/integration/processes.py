"""Real process trees, read from /proc (Linux): who descends from whom, who is still alive."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        text = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` right now (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def command_line(pid: int) -> str:
    try:
        raw = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def postmaster_pid(home: Path) -> int | None:
    """The embedded PostgreSQL server's pid in ``home``, while it runs."""
    try:
        return int((home / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_all_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """The pids still alive after ``timeout`` seconds (empty: all gone)."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        time.sleep(0.1)
    return [p for p in left if alive(p)]


def postmasters() -> list[tuple[int, Path]]:
    """(pid, data directory) of every PostgreSQL server running on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = command_line(int(entry.name)).split()
        if argv and argv[0].endswith("/postgres") and "-D" in argv[:-1]:
            found.append((int(entry.name), Path(argv[argv.index("-D") + 1])))
    return found
