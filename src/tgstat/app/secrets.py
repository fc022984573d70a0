"""Where the secret key comes from: TGSTAT_SECRET_KEY, or a key file generated once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.app.settings import Settings, ensure_home
from tgstat.ports.secrets import Sealer, SecretKeyError

KEY_FILE = "secret.key"


def load_or_create_key(home: Path) -> bytes:
    """The key in ``home/secret.key``, generated (mode 0600) on first use.

    Two commands starting at once agree on one key: the file is created exclusively and the
    loser reads the winner's.
    """
    path = home / KEY_FILE
    ensure_home(home)
    key = FernetSealer.generate_key()
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    try:
        stored = path.read_bytes().strip()
    except OSError as e:
        raise SecretKeyError(f"cannot read the secret key file {path}: {e.strerror}") from e
    if not stored:
        raise SecretKeyError(f"the secret key file {path} is empty")
    return stored


class MissingSecretKeyError(SecretKeyError):
    """Raised when no key is configured or on file while sealed secrets may exist."""


def sealer(settings: Settings, *, may_create: bool = False) -> FernetSealer:
    """The sealer for the configured key: TGSTAT_SECRET_KEY, else the key file in
    TGSTAT_HOME. The file is generated only when ``may_create`` (nothing sealed is stored
    yet); otherwise a missing one is MissingSecretKeyError: a new key would silently leave
    the stored sessions unreadable and the pool sealed under two keys."""
    key = settings.secret_key
    if key is not None:
        return FernetSealer(key.encode(), source="TGSTAT_SECRET_KEY")
    path = settings.home / KEY_FILE
    if not may_create and not path.exists():
        raise MissingSecretKeyError(
            f"no secret key: TGSTAT_SECRET_KEY is unset and {path} does not exist, but the"
            " stored sessions were sealed with one: restore that file (or set"
            " TGSTAT_SECRET_KEY) from your backups"
        )
    return FernetSealer(load_or_create_key(settings.home), source=f"the key file {path}")


class DeferredSealer(Sealer):
    """``sealer(settings)``, looked up when a secret is first sealed or opened: a run whose
    sessions hold nothing sealed (the placeholders of ``tgstat replay``) needs no key."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sealer: FernetSealer | None = None

    def _key(self) -> FernetSealer:
        if self._sealer is None:
            self._sealer = sealer(self._settings)
        return self._sealer

    def seal(self, plaintext: bytes) -> bytes:
        return self._key().seal(plaintext)

    def open(self, sealed: bytes) -> bytes:
        return self._key().open(sealed)
