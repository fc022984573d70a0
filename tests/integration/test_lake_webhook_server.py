"""``tgstat lake webhook`` under slow clients: more silent or trickling connections than its
cap and its descriptor limit, against the real server process over raw sockets."""

from __future__ import annotations

import contextlib
import logging
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_lake_webhook import AUTH, message_update
from tests.integration.test_lake_webhook_faults import Served, webhook_process
from tgstat.adapters.uvicorn_server import RepeatFilter

HEAD = b"POST /telegram/webhook HTTP/1.1\r\nhost: x\r\n"  # never finished
SLOW = 1100
DESCRIPTORS = 1024
HEADER_TIMEOUT_S = 2


def _descriptors() -> None:  # in the child, before exec: the common default limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))


@pytest.fixture(name="server")
def _server(tmp_path: Path) -> Iterator[Served]:
    """The webhook with a cap of 100 connections and a 2 s head deadline, 1,024 descriptors."""
    with webhook_process(
        tmp_path,
        preexec=_descriptors,
        TGSTAT_WEBHOOK_MAX_CONNECTIONS="100",
        TGSTAT_WEBHOOK_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
    ) as served:
        yield served


def open_slow(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request head and then nothing."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        with contextlib.suppress(OSError):  # the server may already have closed it
            sock.sendall(HEAD)
        socks.append(sock)
    return socks


def wait_closed(socks: list[socket.socket], timeout: float) -> int:
    """How many of ``socks`` the server closed (EOF or reset) within ``timeout`` seconds."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + timeout
    while closed < len(socks) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            ready = key.fileobj
            assert isinstance(ready, socket.socket)
            try:
                data = ready.recv(4096)
            except ConnectionError:
                data = b""
            if data:  # a 503 for a refused connection: its EOF follows
                continue
            selector.unregister(ready)
            closed += 1
    selector.close()
    return closed


class TestSlowClients:
    """Slow connections neither starve Telegram's requests nor flood the log."""

    def test_more_slow_connections_than_descriptors(self, server: Served) -> None:
        """1,100 silent connections against a cap of 100 under 1,024 descriptors: a real
        update is still answered in well under a second, every slow connection is closed
        within the head deadline, and the log stays a few lines."""
        socks = open_slow(server.port, SLOW)
        try:
            started = time.monotonic()
            response = httpx.post(
                f"{server.url}/telegram/webhook",
                content=message_update(1),
                headers=AUTH,
                timeout=10,
            )
            answered_s = time.monotonic() - started
            assert response.json() == {"ok": True, "stored": True}
            assert answered_s < 1.0
            assert wait_closed(socks, HEADER_TIMEOUT_S + 3) == SLOW
        finally:
            for sock in socks:
                sock.close()
        assert server.proc.poll() is None
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        lines = server.log.read_text(errors="replace").splitlines()
        assert len(lines) < 40, "\n".join(lines[:60])
        assert not any("Traceback" in line for line in lines)

    def test_trickling_head_is_cut_at_the_deadline(self, server: Served) -> None:
        """A head sent one byte every 0.2 s never completes: closed after the deadline, not
        kept alive by the trickle."""
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        started = time.monotonic()
        closed_after = None
        try:
            for byte in HEAD * 20:
                if time.monotonic() - started > HEADER_TIMEOUT_S + 3:
                    break
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                time.sleep(0.2)
                sock.setblocking(False)
                try:
                    if sock.recv(1) == b"":
                        closed_after = time.monotonic() - started
                        break
                except BlockingIOError:
                    pass
                except OSError:  # a close with unread bytes arrives as a reset
                    closed_after = time.monotonic() - started
                    break
                finally:
                    sock.setblocking(True)
        finally:
            sock.close()
        assert closed_after is not None
        assert HEADER_TIMEOUT_S - 0.5 < closed_after < HEADER_TIMEOUT_S + 2


class TestRepeatedDrops:
    """Updates dropped again and again (a bot flooded with bad ids) do not flood the log."""

    def test_invalid_update_ids_are_logged_once_a_period(self, server: Served) -> None:
        for i in range(300):
            response = server.post(f'{{"update_id": {-1 - i}}}'.encode())
            assert response.status_code == 200
        lines = [
            line
            for line in server.log.read_text(errors="replace").splitlines()
            if "update dropped" in line
        ]
        assert 1 <= len(lines) <= 3, "\n".join(lines[:10])


class TestRepeatFilter:
    """At most one line per kind per period, the next saying how many were held back."""

    def test_collapses_repeats(self) -> None:
        now = [0.0]
        quiet = RepeatFilter(10.0, clock=lambda: now[0])

        def passes(msg: str, level: int = logging.ERROR) -> bool:
            record = logging.LogRecord("x", level, __file__, 1, msg, None, None)
            return quiet.filter(record)

        assert [passes("accept failed") for _ in range(1000)].count(True) == 1
        assert passes("another kind")
        assert passes("chatty", logging.INFO)
        assert passes("chatty", logging.INFO)
        now[0] = 10.5
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "accept failed", None, None)
        assert quiet.filter(record)
        assert record.getMessage() == "accept failed [999 more like this in 10 s]"
