"""Where the secret key comes from: TGSTAT_SECRET_KEY, or a key file generated once."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.app.settings import Settings
from tgstat.ports.secrets import SecretKeyError

KEY_FILE = "secret.key"


def load_or_create_key(home: Path) -> bytes:
    """The key in ``home/secret.key``, generated (mode 0600) on first use.

    Two commands starting at once agree on one key: the file is created exclusively and the
    loser reads the winner's.
    """
    path = home / KEY_FILE
    home.mkdir(parents=True, exist_ok=True)
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


def sealer(settings: Settings) -> FernetSealer:
    """The sealer for the configured key (TGSTAT_SECRET_KEY wins over the key file)."""
    key = settings.secret_key
    if key is None:
        return FernetSealer(load_or_create_key(settings.home))
    return FernetSealer(key.encode())
