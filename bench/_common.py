"""Shared by the benchmarks: a database to measure against."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from tgstat.app.database import embedded_server, socket_url


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """``url`` when given, else a fresh database on a throwaway embedded PostgreSQL."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as home, embedded_server(Path(home)) as sock:
        yield socket_url(sock, f"bench_{uuid.uuid4().hex[:8]}")
