"""Settings come from the environment; bad values give one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tgstat.app.database import socket_url
from tgstat.app.settings import Settings, SettingsError


class TestSettings:
    """One settings object built from a mapping of environment variables."""

    def test_defaults_use_the_embedded_server(self) -> None:
        settings = Settings.from_env({})
        assert settings.database_url is None
        assert settings.home.name == "tgstat"
        assert settings.pool_max_size == 8

    def test_values(self, tmp_path: Path) -> None:
        settings = Settings.from_env(
            {
                "TGSTAT_HOME": str(tmp_path),
                "TGSTAT_DATABASE_URL": "postgresql://u@db/x",
                "TGSTAT_DB_POOL_SIZE": "3",
            }
        )
        assert settings == Settings(tmp_path, "postgresql://u@db/x", 3)

    @pytest.mark.parametrize("raw", ["zero", "0", "-2", "1.5"])
    def test_bad_pool_size(self, raw: str) -> None:
        with pytest.raises(SettingsError, match="TGSTAT_DB_POOL_SIZE must be a positive integer"):
            Settings.from_env({"TGSTAT_DB_POOL_SIZE": raw})


class TestDatabaseUrl:
    """TGSTAT_DATABASE_URL is checked when read: a malformed one is one error, masked."""

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql://u:pw@db.example.org:5432/stats",
            "postgres://u@db/x?password=pw&sslmode=require",
            "postgresql:///tgstat?host=/tmp/pg",
            "host=db.example.org port=5433 dbname=stats user=u password='p w'",
            "postgresql://u@h1:5432,h2:5433/db",
        ],
    )
    def test_accepted_as_written(self, url: str) -> None:
        assert Settings.from_env({"TGSTAT_DATABASE_URL": url}).database_url == url

    def test_empty_means_the_embedded_server(self) -> None:
        assert Settings.from_env({"TGSTAT_DATABASE_URL": ""}).database_url is None

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("notaurl", 'is not a PostgreSQL URL (missing "=" after "notaurl"'),
            ("postgresql://", "names no server and no database"),
            ("   ", "names no server and no database"),
            ("postgresql://u:s3cr3t@host:notaport/db", "has a port that is not a number"),
            ("postgresql://u:s3cr3t@host:99999/db", "has a port that is not a number"),
            ("http://u:s3cr3t@x", "must be a postgresql:// URL, not http://"),
            ("postgresql+asyncpg://u:s3cr3t@h/db", "not postgresql+asyncpg://"),
            ("host=h password=s3cr3t words", 'missing "=" after "***"'),
        ],
    )
    def test_malformed(self, url: str, problem: str) -> None:
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({"TGSTAT_DATABASE_URL": url})
        message = str(raised.value)
        assert message.startswith("TGSTAT_DATABASE_URL ")
        assert problem in message
        assert "s3cr3t" not in message
        assert "words" not in message
        assert "\n" not in message


class TestSocketUrl:
    """The embedded server's URL names its socket directory."""

    def test_socket_url(self) -> None:
        url = socket_url(Path("/tmp/a b/pg"), "tgstat")
        assert url == "postgresql://postgres@/tgstat?host=/tmp/a%20b/pg&sslmode=disable"
