"""A TCP front for a PostgreSQL server that listens on a unix socket only.

The embedded server is started by pgserver with TCP switched off (``-h ""`` on its command
line, which no configuration can override), so ``tgstat db serve`` listens on TCP itself
and hands each connection to the socket. It reads only the client's startup message: TLS
and GSS encryption requests are declined (the client goes on in plain text, as libpq's
default ``sslmode=prefer`` does), a cancel request is passed on, and a connection for
another user or database than the allowed ones is refused with a PostgreSQL error before
it reaches the server. Authentication is the server's own (scram-sha-256 for that user), so
the password is checked by PostgreSQL, never here.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from pathlib import Path

import attrs

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_MAJOR = 3
MAX_STARTUP = 10_000  # PostgreSQL's own limit on a startup packet
_CHUNK = 65536


class ProtocolError(Exception):
    """Raised when a client's first bytes are not a PostgreSQL startup message."""


@attrs.frozen
class Gate:
    """Who may pass: one user, one database (libpq's default database is the user name)."""

    user: str
    database: str

    def refusal(self, params: dict[str, str]) -> str | None:
        user = params.get("user")
        database = params.get("database") or user
        if user != self.user:
            return f'tgstat db serve admits only user "{self.user}", not "{user}"'
        if database != self.database:
            return f'tgstat db serve admits only database "{self.database}", not "{database}"'
        return None


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readexactly(8)
    length, code = struct.unpack("!II", header)
    if not 8 <= length <= MAX_STARTUP:
        raise ProtocolError(f"bad startup packet length {length}")
    return code, header + await reader.readexactly(length - 8)


def _params(packet: bytes) -> dict[str, str]:
    fields = packet[8:].split(b"\0")
    pairs = zip(fields[0::2], fields[1::2], strict=False)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs if k}


def error_response(message: str, code: str = "28000") -> bytes:
    """A FATAL ErrorResponse message (``28000``: invalid authorization specification)."""
    body = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body += b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class PostgresProxy:
    """Connections accepted on TCP, checked by ``gate``, spliced to ``socket_path``."""

    def __init__(self, socket_path: Path, gate: Gate) -> None:
        self._socket_path = socket_path
        self._gate = gate
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection, from its startup message to its end."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        code, packet = await _read_packet(reader)
        while code in (SSL_REQUEST, GSSENC_REQUEST):
            writer.write(b"N")  # no encryption: the client continues in plain text
            await writer.drain()
            code, packet = await _read_packet(reader)
        if code != CANCEL_REQUEST:
            if code >> 16 != PROTOCOL_MAJOR:
                raise ProtocolError(f"unsupported protocol {code >> 16}.{code & 0xFFFF}")
            refusal = self._gate.refusal(_params(packet))
            if refusal is not None:
                writer.write(error_response(refusal))
                await writer.drain()
                return
        up_reader, up_writer = await asyncio.open_unix_connection(str(self._socket_path))
        up_writer.write(packet)
        await up_writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def serve(self, host: str, port: int, stop: Callable[[], bool]) -> None:
        """Listen on ``host:port`` until ``stop()`` turns true (polled), then close every
        connection."""
        server = await asyncio.start_server(self.handle, host, port)
        async with server:
            # the flag is set by a signal handler, outside this loop: polled
            while not stop():  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._tasks, return_exceptions=True)
