"""The URL dbmate gets: libpq's ``prefer`` spelled as what the probe connection negotiated,
since dbmate's driver (lib/pq) defaults to ``require`` and knows no ``prefer``."""

from __future__ import annotations

import pytest

from tgstat.app.migrate import _dbmate_url


class TestSslMode:
    """Absent, prefer or allow: require over TLS, else disable; anything else as given."""

    @pytest.mark.parametrize(
        ("url", "ssl_in_use", "expected"),
        [
            ("postgresql://u:pw@127.0.0.1:5480/db", False, "sslmode=disable"),
            ("postgresql://u:pw@db.example.org/db", True, "sslmode=require"),
            ("postgresql://u:pw@db.example.org/db?sslmode=prefer", True, "sslmode=require"),
            ("postgresql://u:pw@127.0.0.1/db?sslmode=allow", False, "sslmode=disable"),
            (
                "postgresql://u:pw@db.example.org/db?sslmode=verify-full",
                True,
                "sslmode=verify-full",
            ),
            ("host=/tmp/pg dbname=db user=u", None, "sslmode=disable"),
        ],
    )
    def test_mode(self, url: str, ssl_in_use: bool | None, expected: str) -> None:
        converted = _dbmate_url(url, ssl_in_use)
        assert converted.startswith("postgres://")
        assert converted.count("sslmode=") == 1
        assert converted.endswith(expected)

    def test_password_kept_in_the_url(self) -> None:
        assert _dbmate_url("postgresql://u:p%40ss@h/db", False).startswith("postgres://u:p%40ss@h/")
