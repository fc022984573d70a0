"""``add_bot_session`` with a sign-in double at the composition root and the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.integration.cli import clean_env, run_tgstat
from tgstat.adapters.fernet_sealer import FernetSealer
from tgstat.app.secrets import MissingSecretKeyError
from tgstat.app.sessions import InputError, NewSession, sign_in_and_store, validate
from tgstat.app.settings import Settings
from tgstat.ports.gateway import RateLimitedError
from tgstat.ports.repository import DatabaseUnavailableError
from tgstat.ports.signin import (
    InvalidApiCredentialsError,
    InvalidCodeError,
    InvalidPhoneError,
    SignIn,
    WrongPasswordError,
)

API_HASH = "0123456789abcdef0123456789abcdef"
SESSION_FILE = b"SQLite format 3\x00 pretend session with an auth key"
KEY = Fernet.generate_key()


@attrs.define
class ScriptedSignIn(SignIn):
    """Telegram's side of a sign-in, scripted: the right code, an optional 2FA password."""

    code: str = "12345"
    password: str | None = None
    send_error: Exception | None = None
    codes_seen: list[str] = attrs.Factory(list)

    async def send_code(self, phone: str) -> None:
        if self.send_error is not None:
            raise self.send_error

    async def submit_code(self, code: str) -> bool:
        self.codes_seen.append(code)
        if code != self.code:
            raise InvalidCodeError("wrong code")
        return self.password is None

    async def submit_password(self, password: str) -> None:
        if password != self.password:
            raise WrongPasswordError("wrong two-step verification password")

    async def session_file(self) -> bytes:
        return SESSION_FILE


def factory(double: ScriptedSignIn):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def sign_in(api_id: int, api_hash: str, settings: Settings) -> AsyncIterator[SignIn]:
        yield double

    return sign_in


def answers(*lines: str):  # type: ignore[no-untyped-def]
    it: Iterator[str] = iter(lines)

    def prompt(_text: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return prompt


@pytest.fixture(name="settings")
def _settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(tmp_path, db_url, 2, secret_key=KEY.decode())


NEW = NewSession(12345, API_HASH, "+15551234567", "123456:" + "A" * 35)


def stored(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT phone_number, api_id, api_hash, session_bytes, bot_token, status"
            " FROM config__tg_bot_session_pool"
        ).fetchall()


class TestSignIn:
    """A successful sign-in stores the sealed session; every failure stores nothing."""

    async def test_stored_sealed(self, settings: Settings, db_url: str) -> None:
        double = ScriptedSignIn()
        await sign_in_and_store(NEW, settings, sign_in=factory(double), prompt=answers("12345"))
        ((phone, api_id, api_hash, session, bot, status),) = stored(db_url)
        assert (phone, api_id, status) == ("+15551234567", 12345, "enabled")
        seal = FernetSealer(KEY)
        assert seal.open(bytes(session)) == SESSION_FILE  # type: ignore[arg-type]
        assert seal.open(bytes(api_hash)) == API_HASH.encode()  # type: ignore[arg-type]
        assert seal.open(bytes(bot)) == NEW.bot_token.encode()  # type: ignore[arg-type, union-attr]
        assert SESSION_FILE not in bytes(session)  # type: ignore[arg-type]

    async def test_two_factor_password(self, settings: Settings, db_url: str) -> None:
        double = ScriptedSignIn(password="hunter2")
        secrets_asked: list[str] = []

        def secret_prompt(text: str) -> str:
            secrets_asked.append(text)
            return "hunter2"

        await sign_in_and_store(
            NEW,
            settings,
            sign_in=factory(double),
            prompt=answers("12345"),
            secret_prompt=secret_prompt,
        )
        assert len(secrets_asked) == 1
        assert len(stored(db_url)) == 1

    async def test_wrong_code_then_right(self, settings: Settings, db_url: str) -> None:
        double = ScriptedSignIn()
        said: list[str] = []
        await sign_in_and_store(
            NEW,
            settings,
            sign_in=factory(double),
            prompt=answers("11111", "12345"),
            say=said.append,
        )
        assert double.codes_seen == ["11111", "12345"]
        assert said == ["Wrong code, try again (2 left)."]
        assert len(stored(db_url)) == 1

    async def test_readding_replaces_by_phone(self, settings: Settings, db_url: str) -> None:
        for _ in range(2):
            await sign_in_and_store(
                NEW, settings, sign_in=factory(ScriptedSignIn()), prompt=answers("12345")
            )
        assert len(stored(db_url)) == 1

    @pytest.mark.parametrize(
        ("double", "lines", "error", "message"),
        [
            (ScriptedSignIn(), ("1", "2", "3"), InvalidCodeError, "wrong code 3 times"),
            (ScriptedSignIn(password="pw"), ("12345",), InputError, "no answer"),
            (ScriptedSignIn(), (), InputError, "no answer on standard input"),
            (
                ScriptedSignIn(send_error=InvalidPhoneError("Telegram rejects the phone number")),
                (),
                InvalidPhoneError,
                "phone",
            ),
            (
                ScriptedSignIn(send_error=InvalidApiCredentialsError("rejects the api id")),
                (),
                InvalidApiCredentialsError,
                "api id",
            ),
            (
                ScriptedSignIn(send_error=RateLimitedError("Telegram asks to wait 3600 s", 3600)),
                (),
                RateLimitedError,
                "3600 s",
            ),
        ],
        ids=["code-3-times", "password-eof", "code-eof", "bad-phone", "bad-api", "flood"],
    )
    async def test_failures_store_nothing(
        self,
        settings: Settings,
        db_url: str,
        double: ScriptedSignIn,
        lines: tuple[str, ...],
        error: type[Exception],
        message: str,
    ) -> None:
        with pytest.raises(error, match=message):
            await sign_in_and_store(
                NEW,
                settings,
                sign_in=factory(double),
                prompt=answers(*lines),
                secret_prompt=answers(),
            )
        assert stored(db_url) == []

    async def test_wrong_password(self, settings: Settings, db_url: str) -> None:
        with pytest.raises(WrongPasswordError):
            await sign_in_and_store(
                NEW,
                settings,
                sign_in=factory(ScriptedSignIn(password="right")),
                prompt=answers("12345"),
                secret_prompt=answers("wrong"),
            )
        assert stored(db_url) == []

    async def test_database_down_asks_nothing(self, tmp_path: Path) -> None:
        settings = Settings(tmp_path, "postgresql://u:pw@127.0.0.1:1/x", 2, KEY.decode())
        double = ScriptedSignIn()
        with pytest.raises(DatabaseUnavailableError):
            await sign_in_and_store(NEW, settings, sign_in=factory(double), prompt=answers())
        assert double.codes_seen == []


class TestKeyFile:
    """With no TGSTAT_SECRET_KEY the key file is made once, before anything is sealed; a key
    file lost later is an error that says so, never a silent new key."""

    async def test_first_sign_in_makes_the_key_file(self, db_url: str, tmp_path: Path) -> None:
        settings = Settings(tmp_path, db_url, 2)
        await sign_in_and_store(
            NEW, settings, sign_in=factory(ScriptedSignIn()), prompt=answers("12345")
        )
        assert (tmp_path / "secret.key").exists()
        ((_, _, api_hash, *_),) = stored(db_url)
        key = (tmp_path / "secret.key").read_bytes().strip()
        assert FernetSealer(key).open(bytes(api_hash)) == API_HASH.encode()  # type: ignore[arg-type]

    async def test_a_lost_key_file_is_refused(self, db_url: str, tmp_path: Path) -> None:
        settings = Settings(tmp_path, db_url, 2)
        await sign_in_and_store(
            NEW, settings, sign_in=factory(ScriptedSignIn()), prompt=answers("12345")
        )
        (tmp_path / "secret.key").unlink()
        double = ScriptedSignIn()
        other = attrs.evolve(NEW, phone="+15557654321")
        with pytest.raises(MissingSecretKeyError, match="restore that file"):
            await sign_in_and_store(
                other, settings, sign_in=factory(double), prompt=answers("12345")
            )
        assert not (tmp_path / "secret.key").exists()
        assert double.codes_seen == []  # nothing asked
        assert len(stored(db_url)) == 1  # nothing stored under a second key


class TestValidation:
    """Malformed arguments are refused before anything else happens."""

    @pytest.mark.parametrize(
        ("api_id", "api_hash", "phone", "bot", "message"),
        [
            (0, API_HASH, "+15551234567", None, "--api-id"),
            (1, "short", "+15551234567", None, "the api_hash"),
            (1, API_HASH, "call me", None, "--phone"),
            (1, API_HASH, "+1555", None, "--phone"),
            (1, API_HASH, "+15551234567", "nope", "the bot token"),
        ],
    )
    def test_refused(
        self, api_id: int, api_hash: str, phone: str, bot: str | None, message: str
    ) -> None:
        with pytest.raises(InputError, match=message):
            validate(api_id, api_hash, phone, bot)

    def test_phone_normalized(self) -> None:
        assert validate(1, API_HASH.upper(), "+1 (555) 123-4567", None).phone == "+15551234567"


class TestCommand:
    """The console command: one line and exit 2 on bad input, no secret echoed."""

    def test_bad_api_hash(self, db_url: str) -> None:
        done = run_tgstat(
            "add-bot-session",
            "--api-id",
            "1",
            "--phone",
            "+15551234567",
            env=clean_env(TGSTAT_DATABASE_URL=db_url, TGSTAT_API_HASH="s3cr3t"),
        )
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "tgstat: error: the api_hash must be 32 hexadecimal characters (from my.telegram.org)"
        ]
        assert "s3cr3t" not in done.stderr + done.stdout

    @pytest.mark.parametrize("option", ["--api-hash", "--bot-token"])
    def test_secrets_on_the_command_line_are_refused(self, db_url: str, option: str) -> None:
        done = run_tgstat(
            "add-bot-session",
            "--api-id",
            "1",
            option,
            "s3cr3t-in-argv",
            "--phone",
            "+15551234567",
            env=clean_env(TGSTAT_DATABASE_URL=db_url),
        )
        assert done.returncode == 2
        assert done.stderr.startswith(
            "tgstat: error: --api-hash and --bot-token are not taken on the command line"
        )
        assert len(done.stderr.strip().splitlines()) == 1
        assert "s3cr3t-in-argv" not in done.stderr + done.stdout
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT count(*) FROM config__tg_bot_session_pool").fetchone() == (
                0,
            )

    def test_the_api_hash_is_asked_and_never_in_argv(self, tmp_path: Path) -> None:
        """While the command waits for the api_hash, its command line holds no secret."""
        import subprocess
        import sys
        import time

        args = ["--api-id", "1", "--phone", "+15551234567", "--with-bot-token"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgstat.flows.add_bot_session", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(
                TGSTAT_DATABASE_URL="postgresql://u:pw@127.0.0.1:1/x", TGSTAT_HOME=str(tmp_path)
            ),
        )
        try:
            time.sleep(2)  # started and waiting at the prompt
            assert proc.poll() is None
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
            token = "123456:" + "A" * 35
            out, err = proc.communicate(f"{API_HASH}\n{token}\n", timeout=60)
        finally:
            proc.kill()
        assert "add_bot_session" in cmdline
        assert API_HASH not in cmdline
        assert token not in cmdline
        assert proc.returncode == 2
        # asked, accepted, then the database was found down: nothing stored, nothing echoed
        assert err.strip().splitlines()[-1].startswith("tgstat: error: cannot connect")
        assert API_HASH not in out + err
        assert token not in out + err

    def test_module_entry_point_and_database_down(self, tmp_path: Path) -> None:
        import subprocess
        import sys

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tgstat.flows.add_bot_session",
                "--api-id",
                "1",
                "--phone",
                "+15551234567",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            env=clean_env(
                TGSTAT_DATABASE_URL="postgresql://u:pw@127.0.0.1:1/x",
                TGSTAT_HOME=str(tmp_path),
                TGSTAT_API_HASH=API_HASH,
            ),
        )
        assert done.returncode == 2
        assert done.stderr.startswith("tgstat: error: cannot connect to PostgreSQL")
        assert API_HASH not in done.stderr + done.stdout
