"""FernetSealer: the Sealer port over ``cryptography``'s Fernet (AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from tgstat.ports.secrets import Sealer, SecretKeyError


class FernetSealer(Sealer):
    """Seals with one Fernet key (url-safe base64 of 32 random bytes); ``source`` names where
    the key came from, for the error messages."""

    def __init__(self, key: bytes, source: str = "TGSTAT_SECRET_KEY") -> None:
        self._source = source
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as e:
            raise SecretKeyError(
                f"{source} is not a valid Fernet key (44 url-safe base64 characters;"
                " make one with: python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())')"
            ) from e

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken as e:
            raise SecretKeyError(
                f"cannot decrypt a stored secret: the secret key ({self._source}) is not the"
                " key it was encrypted with (or the stored bytes were altered)"
            ) from e
