"""Shared by the benchmarks: a database to measure against."""

from __future__ import annotations

import argparse
import contextlib
import math
import resource
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tgstat.app.database import embedded_server, socket_url


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """``url`` when given, else a fresh database on a throwaway embedded PostgreSQL."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as home, embedded_server(Path(home)) as sock:
        yield socket_url(sock, f"bench_{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def database_and_server(url: str | None) -> Iterator[tuple[str, Path | None]]:
    """Like ``database``, with the data directory of the embedded server it started (None
    for a given ``url``: its server's processes are not ours to measure)."""
    if url:
        yield url, None
        return
    with tempfile.TemporaryDirectory() as home, embedded_server(Path(home)) as sock:
        yield socket_url(sock, f"bench_{uuid.uuid4().hex[:8]}"), Path(home) / "pg"


class ServerProcesses:
    """CPU and memory of a PostgreSQL server: the postmaster and its children, from /proc.

    CPU seconds include the children the postmaster has reaped (backends that exited), so
    deltas between two readings are the server's whole CPU in between.
    """

    def __init__(self, pgdata: Path) -> None:
        import psutil

        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        self._psutil = psutil
        self._postmaster = psutil.Process(pid)

    def _children(self) -> list[Any]:
        return [self._postmaster, *self._postmaster.children(recursive=True)]

    def cpu_s(self) -> float:
        t = self._postmaster.cpu_times()
        total = t.children_user + t.children_system
        for p in self._children():
            with contextlib.suppress(self._psutil.Error):
                c = p.cpu_times()
                total += c.user + c.system
        return total

    def memory_mb(self) -> tuple[float, float]:
        """(sum of RSS, sum of PSS): RSS counts shared buffers once per process, PSS splits
        them between the processes sharing them (the honest total)."""
        rss = pss = 0.0
        for p in self._children():
            with contextlib.suppress(self._psutil.Error):
                m = p.memory_full_info()
                rss += m.rss
                pss += getattr(m, "pss", m.rss)
        return rss / 2**20, pss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slope(x0: float, y0: float, x1: float, y1: float) -> float | None:
    """The log-log slope between two points: the growth exponent of y in x."""
    if min(x0, y0, x1, y1) <= 0 or x0 == x1:
        return None
    return math.log(y1 / y0) / math.log(x1 / x0)


def at_least(low: float, kind: type = int) -> Callable[[str], Any]:
    """An argparse type: a ``kind`` number >= ``low`` (finite), else a usage error line."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value < float("inf"):  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be at least {low:g}: {text!r}")
        return value

    return parse
