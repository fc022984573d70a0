"""Sessions a real run cannot use: a replay's placeholder, a stored file that is not a
Telethon session. Each is one clear line and exit 2, and nothing stored is touched."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import Scenario
from tgstat.app.replay import register
from tgstat.domain.ids import ChannelId
from tgstat.domain.model import ChannelConfig, SealedSession

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-channel.json"
PHONE = "+15550001111"
KEY = Fernet.generate_key()
Conn = psycopg.Connection[tuple[object, ...]]


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tgstat: error: "), stderr
    return lines[0]


class TestReplayPlaceholders:
    """After ``just demo``, a real collection says the channel needs a real session."""

    async def test_collect_says_replay_not_secret_key(
        self, repo: PostgresStatRepository, db_url: str, tmp_path: Path
    ) -> None:
        await register(repo, Scenario.load(DEMO))
        env = clean_env(TGSTAT_DATABASE_URL=db_url, TGSTAT_HOME=str(tmp_path))
        done = run_tgstat("collect", env=env)
        assert done.returncode == 2, done.stderr
        line = one_error_line(done.stderr)
        assert "comes from a replay" in line
        assert "add_bot_session" in line
        assert "TGSTAT_REPLAY_SCENARIO" in line
        assert "secret key" not in line
        assert not (tmp_path / "secret.key").exists()  # nothing sealed: no key was needed


@pytest.fixture(name="garbage_session")
async def _garbage_session(repo: PostgresStatRepository) -> bytes:
    """A session row for PHONE whose file, once opened, is not a Telethon session."""
    seal = FernetSealer(KEY)
    garbage = b"this is not an SQLite database at all " * 64
    async with repo.session() as s, s.transaction():
        pk = await s.upsert_session(
            SealedSession(PHONE, 1, seal.seal(b"0" * 32), seal.seal(garbage))
        )
        await s.upsert_channel(ChannelConfig(ChannelId(1777000001), "Demo channel", pk))
    return garbage


def stored_session_bytes(db: Conn) -> bytes:
    row = db.execute("SELECT session_bytes FROM config__tg_bot_session_pool").fetchone()
    assert row is not None
    return FernetSealer(KEY).open(bytes(row[0]))  # type: ignore[arg-type]


class TestCorruptSessionFile:
    """A stored file that is not a Telethon session names the account and how to fix it."""

    @pytest.mark.parametrize(
        "args",
        [("add-channel", "--phone", PHONE, "--channel", "Nope"), ("collect",)],
        ids=["add-channel", "collect"],
    )
    def test_one_line_naming_the_masked_phone(
        self, args: tuple[str, ...], garbage_session: bytes, db_url: str, db: Conn, tmp_path: Path
    ) -> None:
        env = clean_env(
            TGSTAT_DATABASE_URL=db_url, TGSTAT_HOME=str(tmp_path), TGSTAT_SECRET_KEY=KEY.decode()
        )
        done = run_tgstat(*args, env=env)
        assert done.returncode == 2, done.stderr
        line = one_error_line(done.stderr)
        assert "***1111" in line
        assert PHONE not in line
        assert "not a Telethon session file" in line
        assert "add_bot_session" in line
        assert stored_session_bytes(db) == garbage_session  # kept as it was
