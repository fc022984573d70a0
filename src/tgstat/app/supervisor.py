"""Long-running commands and their child processes: stop signals noted, children stopped.

A stop signal (SIGTERM from ``kill``, systemd or docker; SIGINT from Ctrl-C; SIGHUP when the
terminal goes) is only noted by the handler; the command checks for it at safe points and
unwinds its ``with`` blocks, so every child is stopped in order and none is orphaned by an
exception raised halfway through starting or stopping another.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType

from tgstat.domain.errors import TgstatError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(Exception):
    """Raised at a safe point after a stop signal arrived."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(sig.name)
        self.signal = sig


class StopSignals:
    """Notes the first stop signal; ``check()`` raises Stopped once one arrived."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)

    def check(self) -> None:
        if self.received is not None:
            raise Stopped(self.received)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Handle SIGTERM, SIGINT and SIGHUP for the block (previous handlers restored)."""
        previous = {sig: signal.signal(sig, self._note) for sig in STOP_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def spawn_module(
    module: str, env: Mapping[str, str], args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """``python -m module args`` in a process group of its own (a terminal's Ctrl-C reaches
    only this process, which stops the child in order), sharing stdout and stderr."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter, our own arguments
        [sys.executable, "-m", module, *args],
        stdin=subprocess.DEVNULL,
        env=dict(env),
        start_new_session=True,
    )


def stop_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to ``proc`` alone (it stops its own children in order), SIGKILL when it is
    still there after ``timeout`` seconds; then SIGKILL to whatever is left of its process
    group (grandchildren that outlived it)."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class PortInUseError(TgstatError):
    """Raised when a port a command would listen on is taken (checked before it starts
    anything)."""


class ListenError(TgstatError):
    """Raised when an address cannot be listened on for another reason."""


def check_port_free(host: str, port: int, guess: str) -> None:
    """PortInUseError (naming ``guess``, what probably holds it) when something listens on
    ``host:port``; bound the way servers bind, so a port in TIME_WAIT counts as free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ListenError(f"--host {host!r} is not an address of this machine") from e
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {port} on {host} is already in use ({guess}): choose another with --port"
                ) from e
            raise ListenError(f"cannot listen on {host}:{port}: {e.strerror}") from e
