"""``redact``: no password in a shown URL, DSN or database message, whatever its spelling."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import conninfo

from tgstat.app.redaction import redact

PASSWORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")),
    min_size=6,
    max_size=30,
).filter(lambda p: "*" not in p)
_SURROUNDINGS = (
    "postgresql://u:@h/db refused postgres://u@h/db?password= refused",
    "host=db.example.org user=u password= could not connect: ",
)
"""The text around the passwords below: a password found in it is no leak (e.g. 'ostgre')."""
PASSWORDS = PASSWORDS.filter(lambda p: not any(p in text for text in _SURROUNDINGS))


class TestSpellings:
    """Every spelling libpq accepts, masked; everything else left as it was."""

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            (
                "postgresql://u:p%40ss@h/db?sslmode=require",
                "postgresql://u:***@h/db?sslmode=require",
            ),
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
            ("postgresql://u:two words@h:5499/db", "postgresql://u:***@h:5499/db"),
            (
                "postgresql://u@h/db?password=pw&sslmode=disable",
                "postgresql://u@h/db?password=***&sslmode=disable",
            ),
            (
                "postgres://u@h/db?sslmode=disable&password=pw",
                "postgres://u@h/db?sslmode=disable&password=***",
            ),
            ("host=h password=pw user=u", "host=h password=*** user=u"),
            ("host=h password = pw user=u", "host=h password = *** user=u"),
            ("host=h password='p w\\' x' user=u", "host=h password=*** user=u"),
            ("host=h password=p\\ w user=u", "host=h password=*** user=u"),
            ("host=h PASSWORD=pw", "host=h PASSWORD=***"),
            ("host=h sslpassword=pw dbname=d", "host=h sslpassword=*** dbname=d"),
            ("failed with PGPASSWORD=pw", "failed with PGPASSWORD=***"),
            ("host=h password='unterminated", "host=h password=***"),
            ("host=h password=a b dbname=d", "host=h password=*** dbname=d"),
            ("host=h password=", "host=h password=***"),
        ],
    )
    def test_masked(self, text: str, shown: str) -> None:
        assert redact(text) == shown

    @pytest.mark.parametrize(
        "text",
        [
            "postgresql://u@h/db",
            "postgresql:///db?host=/tmp/x",
            "postgresql://h:5432/db failed: user@example.org",
            "host=h port=5432 dbname=d",
            'password authentication failed for user "u"',
            "password in /home/u/.local/share/tgstat/db-password",
            "notaurl",
            "",
        ],
    )
    def test_without_a_password_nothing_changes(self, text: str) -> None:
        assert redact(text) == text

    @pytest.mark.parametrize(
        "text",
        [
            "at postgresql://u@h/db?password=***: refused",
            "at postgresql://u:***@h/db: refused",
            "at host=h password=*** user=u: refused",
            "at host=h password=***, refused",
        ],
    )
    def test_masking_twice_changes_nothing_more(self, text: str) -> None:
        assert redact(text) == text


class TestMessages:
    """A message that echoes a URL's password (libpq does) is masked given that URL."""

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("postgresql://u:s3cr%33t@h/db", 'role "u": wrong password "s3cr3t"'),
            ("host=h password='two words'", "missing value after two words"),
            ("host=h password=two words", 'missing "=" after "words" in connection info string'),
            ("postgresql://u@h/db?password=s3cr3t", "bad s3cr3t"),
            # libpq splits at the first "@": the rest of the password comes back as the host
            ("postgresql://u:two@words@h/db", "failed to resolve host 'words@h'"),
            ("postgresql://u:s3cr3t:two@words@h/db", "host 'two@words@h': s3cr3t"),
            # psycopg refuses a space in a URI and echoes the password
            ("postgresql://u:two words@h/db", 'unexpected spaces found in "two words"'),
        ],
    )
    def test_the_password_is_masked_wherever_it_appears(self, url: str, message: str) -> None:
        shown = redact(message, url)
        assert "***" in shown
        for secret in ("s3cr3t", "two", "words"):
            assert secret not in shown

    @given(text=st.text(), url=st.text())
    def test_never_raises(self, text: str, url: str) -> None:
        assert isinstance(redact(text, url), str)

    @given(password=PASSWORDS)
    def test_any_password_in_key_value_form(self, password: str) -> None:
        dsn = conninfo.make_conninfo(host="db.example.org", user="u", password=password)
        assert password not in redact(dsn)
        assert password not in redact(f"could not connect: {password}", dsn)

    @given(password=PASSWORDS)
    def test_any_password_in_a_uri(self, password: str) -> None:
        quoted = urllib.parse.quote(password, safe="")
        for url in (f"postgresql://u:{quoted}@h/db", f"postgres://u@h/db?password={quoted}"):
            shown = redact(f"{url} refused {password}", url)
            assert password not in shown
            assert quoted not in shown
