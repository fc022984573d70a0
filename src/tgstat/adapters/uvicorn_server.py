"""The webhook's HTTP server: uvicorn, plus the two limits it lacks, and a quiet log.

uvicorn has no timeout for a request head (``timeout_keep_alive`` runs only between
requests and is reset by every byte: its issue #157) and ``limit_concurrency`` answers 503
only once a request head arrived, while a silent connection keeps its descriptor. So each
connection gets a head deadline from the moment it is accepted (and again after each
response): a head not complete by then closes the connection, however slowly its bytes
trickle in (slowloris). At most ``max_connections`` are open: a new one beyond that evicts
the oldest that is still waiting for its head (a real client sends its head at once), or,
when every one is busy with a request, is answered 503 and closed at once. Descriptors
never run out, so accept() never fails in a loop. Warnings and errors repeat at most once
per ``log_every_s`` per kind, the next one counting those suppressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from tgstat.domain.errors import TgstatError

BUSY = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
SPARE_DESCRIPTORS = 64
"""Descriptors kept beyond ``max_connections`` for the lake's files, the log, the loop."""

log = logging.getLogger(__name__)


class ServerLimitError(TgstatError):
    """Raised when the descriptor limit cannot hold ``max_connections`` connections."""


@attrs.frozen
class ServerLimits:
    """Limits of the webhook server; seconds throughout."""

    max_connections: int = 256
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    log_every_s: float = 10.0


def serve(app: ASGIApp, host: str, port: int, limits: ServerLimits) -> None:
    """Serve ``app`` on ``host:port`` under ``limits`` until SIGINT/SIGTERM (then returns).

    Raises ServerLimitError when RLIMIT_NOFILE (raised to its hard limit if needed) is
    below ``max_connections`` plus SPARE_DESCRIPTORS.
    """
    _ensure_descriptors(limits.max_connections + SPARE_DESCRIPTORS)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        backlog=max(128, limits.max_connections),
        timeout_keep_alive=limits.keep_alive_s,
        h11_max_incomplete_event_size=16 * 1024,  # a request head; Telegram's are ~0.5 KiB
    )
    quiet_repeats(limits.log_every_s)  # uvicorn set up its handlers in Config()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises SIGINT once stopped
        uvicorn.Server(config).run()


def _ensure_descriptors(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ServerLimitError(
                f"the descriptor limit ({hard}) is below TGSTAT_WEBHOOK_MAX_CONNECTIONS plus"
                f" {SPARE_DESCRIPTORS} ({needed}): raise `ulimit -n` or lower the setting"
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def guarded_protocol(limits: ServerLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a head deadline and a cap on open connections (one
    registry of waiting connections per server)."""
    waiting: dict[Guarded, None] = {}  # waiting for a request head, oldest first

    class Guarded(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections and not _evict_oldest():
                log.warning("connection refused: %d open, all busy", limits.max_connections)
                transport.write(BUSY)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a head arrived (or garbage did)
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            waiting[self] = None
            self._deadline = self.loop.call_later(limits.header_timeout_s, self._expire)

        def _disarm(self) -> None:
            waiting.pop(self, None)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            waiting.pop(self, None)
            log.warning(
                "connection closed: no complete request head within %g s",
                limits.header_timeout_s,
            )
            self.transport.close()

    def _evict_oldest() -> bool:
        if not waiting:
            return False
        oldest = next(iter(waiting))
        oldest._disarm()
        log.warning("connection closed: oldest of %d awaiting a head, for a new one", len(waiting))
        oldest.transport.close()
        return True

    return Guarded


class RepeatFilter(logging.Filter):
    """Lets a WARNING or worse through at most once per ``every_s`` per kind (logger, level,
    message template); the next one let through says how many were held back."""

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._last: dict[tuple[str, int, str], float] = {}
        self._held: Counter[tuple[str, int, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            self._held[key] += 1
            return False
        if len(self._last) > 1000:  # message kinds are few; this bounds a pathological case
            self._last.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in {self._every_s:g} s]"
        return True


def quiet_repeats(every_s: float) -> None:
    """Put a RepeatFilter first on every handler of the root and uvicorn loggers (asyncio's
    accept errors reach the root's; one filter per handler, so no handler hides another's)."""
    names: list[Any] = [None, "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RepeatFilter) for f in handler.filters):
                # first: a filter that formats the message into ``msg`` (the CLI's password
                # masking) would otherwise make every record of one kind look new
                handler.filters.insert(0, RepeatFilter(every_s))
