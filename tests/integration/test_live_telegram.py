"""Session choice for real runs: the channel's own session, else another live one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession

from tests.builders import CHANNEL, channel
from tests.telethon_canned import CannedTelegram, canned_client_class, user
from tests.telethon_canned import channel as tg_channel
from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.settings import Settings
from tgstat.app.telegram import NoUsableSessionError, live_telegram
from tgstat.domain.ids import SessionPk
from tgstat.domain.model import SealedSession

KEY = Fernet.generate_key()
SEAL = FernetSealer(KEY)
Conn = psycopg.Connection[tuple[object, ...]]


def session_file(tmp_path: Path, name: str) -> bytes:
    made = SQLiteSession(str(tmp_path / name))
    made.set_dc(2, "149.154.167.51", 443)
    made.auth_key = AuthKey(bytes(256))
    made.save()
    made.close()
    return (tmp_path / f"{name}.session").read_bytes()


def per_api_id(telegrams: dict[int, CannedTelegram]) -> Any:
    """A client class answered by the canned Telegram of the session's api id."""

    def build(path: str, api_id: int, api_hash: str, **kwargs: Any) -> Any:
        return canned_client_class(telegrams[api_id])(path, api_id, api_hash, **kwargs)

    return build


@pytest.fixture(name="pool_rows")
async def _pool_rows(repo: PostgresStatRepository, tmp_path: Path) -> list[SessionPk]:
    """Two sessions (api ids 1 and 2); the channel belongs to the first."""
    pks = []
    async with repo.session() as s, s.transaction():
        for api_id in (1, 2):
            pks.append(
                await s.upsert_session(
                    SealedSession(
                        f"+1555000000{api_id}",
                        api_id,
                        SEAL.seal(b"0" * 32),
                        SEAL.seal(session_file(tmp_path, f"s{api_id}")),
                    )
                )
            )
        await s.upsert_channel(channel(pks[0]))
    return pks


def telegram(alive: bool) -> CannedTelegram:
    return CannedTelegram(
        dialogs=[tg_channel(CHANNEL, "Demo", "demo")], me=user(9, "Me") if alive else None
    )


class TestLiveTelegram:
    """Own session first; a dead one is marked banned and the next one used."""

    async def test_own_session(
        self, repo: PostgresStatRepository, pool_rows: list[SessionPk], tmp_path: Path
    ) -> None:
        settings = Settings(tmp_path, None, secret_key=KEY.decode())
        async with repo.session() as s:
            ch = await s.get_channel(CHANNEL)
        clients = per_api_id({1: telegram(True), 2: telegram(True)})
        async with live_telegram(ch, repo, SEAL, settings, client_class=clients) as live:
            assert live.session.pk == pool_rows[0]
            info = await live.gateway.resolve_channel("Demo")
        assert info.id == CHANNEL

    async def test_falls_back_and_marks_the_dead_one(
        self, repo: PostgresStatRepository, pool_rows: list[SessionPk], tmp_path: Path, db: Conn
    ) -> None:
        settings = Settings(tmp_path, None, secret_key=KEY.decode())
        async with repo.session() as s:
            ch = await s.get_channel(CHANNEL)
        clients = per_api_id({1: telegram(False), 2: telegram(True)})
        async with live_telegram(ch, repo, SEAL, settings, client_class=clients) as live:
            assert live.session.pk == pool_rows[1]
        assert db.execute(
            "SELECT api_id, status FROM config__tg_bot_session_pool ORDER BY api_id"
        ).fetchall() == [(1, "banned"), (2, "enabled")]

    async def test_none_left(
        self, repo: PostgresStatRepository, pool_rows: list[SessionPk], tmp_path: Path, db: Conn
    ) -> None:
        settings = Settings(tmp_path, None, secret_key=KEY.decode())
        async with repo.session() as s:
            ch = await s.get_channel(CHANNEL)
        clients = per_api_id({1: telegram(False), 2: telegram(False)})
        with pytest.raises(NoUsableSessionError, match="no enabled session"):
            async with live_telegram(ch, repo, SEAL, settings, client_class=clients):
                pass
        assert db.execute(
            "SELECT count(*) FROM config__tg_bot_session_pool WHERE status = 'banned'"
        ).fetchone() == (2,)
        # a banned session is never tried again: no request reaches Telegram
        fresh = {1: telegram(True), 2: telegram(True)}
        with pytest.raises(NoUsableSessionError):
            async with live_telegram(ch, repo, SEAL, settings, client_class=per_api_id(fresh)):
                pass
        assert fresh[1].requests == []
        assert fresh[2].requests == []
