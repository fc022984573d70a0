"""``add_channel``: the real session store, the real Telethon gateway over canned Telegram."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession

from tests.integration.cli import clean_env, run_tgstat
from tests.telethon_canned import CannedTelegram, canned_client_class, channel, user
from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.sessions import NoSessionError, add_channel
from tgstat.app.settings import Settings
from tgstat.domain.model import SealedSession
from tgstat.ports.gateway import ChannelAmbiguousError, ChannelNotFoundError, SessionBannedError

PHONE = "+15550001111"
KEY = Fernet.generate_key()
Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture(name="settings")
def _settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(tmp_path, db_url, 2, secret_key=KEY.decode())


@pytest.fixture(name="stored_session")
async def _stored_session(repo: PostgresStatRepository, tmp_path: Path) -> bytes:
    """A real offline .session file, sealed and stored for PHONE; returns the plain file."""
    made = SQLiteSession(str(tmp_path / "made"))
    made.set_dc(2, "149.154.167.51", 443)
    made.auth_key = AuthKey(bytes(range(256)))
    made.save()
    made.close()
    plain = (tmp_path / "made.session").read_bytes()
    seal = FernetSealer(KEY)
    async with repo.session() as s, s.transaction():
        await s.upsert_session(SealedSession(PHONE, 1, seal.seal(b"0" * 32), seal.seal(plain)))
    return plain


@pytest.fixture(name="telegram")
def _telegram() -> CannedTelegram:
    return CannedTelegram(
        dialogs=[channel(1777000001, "Demo channel", "demo"), channel(1777000002, "Other news")],
        me=user(99, "Admin"),
    )


def channels(db: Conn) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT tg_channel_id, tg_channel_name, tg_channel_username FROM config__tg_channel"
    ).fetchall()


class TestAddChannel:
    """Resolve by title with the phone's session; upsert; never duplicate."""

    async def test_added_then_renamed(
        self, settings: Settings, stored_session: bytes, telegram: CannedTelegram, db: Conn
    ) -> None:
        added = await add_channel(
            PHONE, "Demo channel", settings, client_class=canned_client_class(telegram)
        )
        assert (added.channel_id, added.name, added.username) == (
            1777000001,
            "Demo channel",
            "demo",
        )
        telegram.dialogs[0] = channel(1777000001, "Demo channel (new name)", "demo")
        await add_channel(
            PHONE, "Demo channel (new name)", settings, client_class=canned_client_class(telegram)
        )
        assert channels(db) == [(1777000001, "Demo channel (new name)", "demo")]

    async def test_session_file_written_back(
        self,
        settings: Settings,
        stored_session: bytes,
        telegram: CannedTelegram,
        db: Conn,
        tmp_path: Path,
    ) -> None:
        await add_channel(PHONE, "@demo", settings, client_class=canned_client_class(telegram))
        row = db.execute("SELECT session_bytes FROM config__tg_bot_session_pool").fetchone()
        assert row is not None
        back = tmp_path / "back.session"
        back.write_bytes(FernetSealer(KEY).open(bytes(row[0])))  # type: ignore[arg-type]
        session = SQLiteSession(str(back))
        assert session.auth_key.key == bytes(range(256))
        session.close()

    async def test_not_found_lists_close_titles(
        self, settings: Settings, stored_session: bytes, telegram: CannedTelegram, db: Conn
    ) -> None:
        with pytest.raises(ChannelNotFoundError, match="Demo channel"):
            await add_channel(
                PHONE, "Demo chanel", settings, client_class=canned_client_class(telegram)
            )
        assert channels(db) == []

    async def test_ambiguous_lists_ids(
        self, settings: Settings, stored_session: bytes, telegram: CannedTelegram, db: Conn
    ) -> None:
        telegram.dialogs.append(channel(1777000003, "Demo channel"))
        with pytest.raises(ChannelAmbiguousError, match=r"1777000001.*1777000003"):
            await add_channel(
                PHONE, "Demo channel", settings, client_class=canned_client_class(telegram)
            )
        assert channels(db) == []

    async def test_dead_session_is_marked_banned(
        self, settings: Settings, stored_session: bytes, telegram: CannedTelegram, db: Conn
    ) -> None:
        telegram.me = None  # Telegram answers 401 AUTH_KEY_UNREGISTERED
        with pytest.raises(SessionBannedError, match="AuthKeyUnregisteredError"):
            await add_channel(
                PHONE, "Demo channel", settings, client_class=canned_client_class(telegram)
            )
        assert db.execute(
            "SELECT status, status_reason LIKE '%AuthKeyUnregistered%', status_changed_at"
            " IS NOT NULL FROM config__tg_bot_session_pool"
        ).fetchall() == [("banned", True, True)]
        assert channels(db) == []

    async def test_no_session_for_phone(
        self, settings: Settings, stored_session: bytes, telegram: CannedTelegram
    ) -> None:
        with pytest.raises(NoSessionError, match="add_bot_session"):
            await add_channel(
                "+15559999999",
                "Demo channel",
                settings,
                client_class=canned_client_class(telegram),
            )


class TestAddChannelCommand:
    """The console command: one line and exit 2."""

    def test_no_session(self, db_url: str, tmp_path: Path) -> None:
        done = run_tgstat(
            "add-channel",
            "--phone",
            PHONE,
            "--channel",
            "Demo channel",
            env=clean_env(TGSTAT_DATABASE_URL=db_url, TGSTAT_HOME=str(tmp_path)),
        )
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "tgstat: error: no enabled session for phone ***1111: add one with"
            " `python -m tgstat.flows.add_bot_session`"
        ]

    def test_module_entry_point_bad_phone(self, db_url: str) -> None:
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, "-m", "tgstat.flows.add_channel", "--phone", "nope", "--channel", "x"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=clean_env(TGSTAT_DATABASE_URL=db_url),
        )
        assert done.returncode == 2
        assert "--phone must be an international number" in done.stderr
