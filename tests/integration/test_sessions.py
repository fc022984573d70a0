"""Session files: sealed at rest, opened into a private temp dir only while a client runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession

from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.telethon.session import SESSION_NAME, session_client
from tgstat.app.secrets import MissingSecretKeyError, load_or_create_key, sealer
from tgstat.app.settings import Settings
from tgstat.domain.model import SealedSession
from tgstat.ports.secrets import SecretKeyError


@pytest.fixture(name="session_file")
def _session_file(tmp_path: Path) -> bytes:
    """A real Telethon .session file with an auth key, made offline."""
    session = SQLiteSession(str(tmp_path / "made"))
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(bytes(range(256)))
    session.save()
    session.close()
    return (tmp_path / "made.session").read_bytes()


class TestRoundTrip:
    """A .session file survives seal -> store -> load -> open with the same auth key."""

    async def test_same_auth_key(
        self, session_file: bytes, repo: PostgresStatRepository, db_url: str, tmp_path: Path
    ) -> None:
        seal = FernetSealer(Fernet.generate_key())
        async with repo.session() as s:
            async with s.transaction():
                pk = await s.upsert_session(
                    SealedSession("+15550001111", 1, seal.seal(b"h" * 32), seal.seal(session_file))
                )
            loaded = await s.get_session(pk)
        with psycopg.connect(db_url) as conn:
            raw = conn.execute("SELECT session_bytes FROM config__tg_bot_session_pool").fetchone()
        assert raw is not None
        assert session_file not in bytes(raw[0])
        assert loaded.session_bytes is not None
        async with session_client(
            seal.open(loaded.session_bytes), 1, "h" * 32, flood_sleep_threshold=60
        ) as handle:
            directory = handle.path.parent
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
            assert stat.S_IMODE(handle.path.stat().st_mode) == 0o600
            assert handle.client.session.auth_key.key == bytes(range(256))
            assert handle.client.session.dc_id == 2
        assert not directory.exists()
        assert handle.session_file is not None
        # the file read back is still a valid session
        restored = tmp_path / "restored"
        restored.mkdir()
        (restored / SESSION_NAME).write_bytes(handle.session_file)
        again = SQLiteSession(str(restored / SESSION_NAME))
        assert again.auth_key.key == bytes(range(256))
        again.close()

    async def test_temp_files_removed_on_error(self, session_file: bytes) -> None:
        seen: list[Path] = []
        with pytest.raises(RuntimeError, match="boom"):
            async with session_client(session_file, 1, "h" * 32, flood_sleep_threshold=60) as h:
                seen.append(h.path)
                raise RuntimeError("boom")
        assert seen
        assert not seen[0].parent.exists()


class TestKeys:
    """The key: from TGSTAT_SECRET_KEY, else generated once into TGSTAT_HOME (0600)."""

    def test_generated_once_with_mode_0600(self, tmp_path: Path) -> None:
        first = load_or_create_key(tmp_path)
        assert load_or_create_key(tmp_path) == first
        assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600
        token = sealer(Settings(tmp_path, None)).seal(b"x")
        assert FernetSealer(first).open(token) == b"x"

    def test_wrong_key_is_a_clear_error(self, tmp_path: Path) -> None:
        token = FernetSealer(Fernet.generate_key()).seal(b"session")
        other = sealer(Settings(tmp_path, None, secret_key=Fernet.generate_key().decode()))
        with pytest.raises(SecretKeyError, match="not the key it was encrypted with"):
            other.open(token)

    def test_a_missing_key_file_is_not_made_unless_allowed(self, tmp_path: Path) -> None:
        with pytest.raises(MissingSecretKeyError, match="TGSTAT_SECRET_KEY is unset and"):
            sealer(Settings(tmp_path, None))
        assert not (tmp_path / "secret.key").exists()
        sealer(Settings(tmp_path, None), may_create=True)
        assert (tmp_path / "secret.key").exists()

    def test_a_wrong_key_file_is_named(self, tmp_path: Path) -> None:
        token = FernetSealer(Fernet.generate_key()).seal(b"session")
        load_or_create_key(tmp_path)
        with pytest.raises(SecretKeyError, match=r"the secret key \(the key file .*secret.key\)"):
            sealer(Settings(tmp_path, None)).open(token)

    def test_malformed_key(self, tmp_path: Path) -> None:
        with pytest.raises(SecretKeyError, match="not a valid Fernet key"):
            sealer(Settings(tmp_path, None, secret_key="not-a-key"))

    def test_key_never_in_repr(self, tmp_path: Path) -> None:
        key = Fernet.generate_key().decode()
        assert key not in repr(Settings(tmp_path, None, secret_key=key))
