"""Settings come from the environment; bad values give one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tgstat.app.database import redact, socket_url
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


class TestRedact:
    """Messages name the database without its password."""

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
            (
                "postgresql://u:p%40ss@h/db?sslmode=require",
                "postgresql://u:***@h/db?sslmode=require",
            ),
            ("postgresql://u@h/db", "postgresql://u@h/db"),
            ("postgresql:///db?host=/tmp/x", "postgresql:///db?host=/tmp/x"),
        ],
    )
    def test_password_is_hidden(self, url: str, shown: str) -> None:
        assert redact(url) == shown

    def test_socket_url(self) -> None:
        url = socket_url(Path("/tmp/a b/pg"), "tgstat")
        assert url == "postgresql://postgres@/tgstat?host=/tmp/a%20b/pg&sslmode=disable"
