"""Passwords out of every text tgstat shows or logs: URLs, DSNs and database error messages.

One helper, ``redact``, masks every spelling libpq accepts: URI userinfo
(``postgresql://u:p@h/db``, ``postgres://``), URI query (``?password=`` / ``&password=``),
key=value (``password=secret``, ``password='quoted \\' secret'``) and any ``...password=``
an error message echoes (``PGPASSWORD=``, ``sslpassword=``). It never raises.
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"

# Already masked (a message redacted twice keeps what follows the mask).
_DONE = r"\*\*\*(?=[\s:;,)\"']|$)|"
# userinfo password: up to the last "@" before any "/" (a password may hold "@"), else up
# to the first "@" (it may hold "/"), else words up to the first "@" on the line (an
# unencoded space, which libpq refuses and echoes); over-masking is the safe side.
_URI = re.compile(
    r"(\b[a-z][a-z0-9+.-]*://[^\s:/?#@]*:)"
    r"([^\s/]*(?=@)|[^\s@]*(?=@)|[^\n/@]*\s[^\n/@]*(?=@))",
    re.I,
)
_QUERY = re.compile(rf"([?&]\w*password=)({_DONE}[^&#\s]*)", re.I)
# libpq key=value: a quoted value (backslash escapes), else an unquoted one (backslash
# escapes too) plus any following words that are not ``key=`` (a malformed, unquoted value
# with spaces would otherwise leave its tail in clear).
_KEY_VALUE = re.compile(
    r"((?<![?&])\b\w*password\s*=\s*)"
    rf"({_DONE}'(?:\\.|[^'\\])*'?|(?:\\.|[^\s\\])*\\?(?:\s+(?![\w.-]+\s*=)[^\s=]+)*)",
    re.I,
)
_PATTERNS = (_URI, _QUERY, _KEY_VALUE)


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every password in it replaced by ``***``.

    ``text`` is a URL/DSN or any message; when it may echo parts of a database ``url``
    (libpq and psycopg errors do), pass that ``url`` too: its password is then masked
    wherever it appears, decoded or not. Malformed strings are masked too (by pattern);
    nothing here raises.
    """
    for secret in sorted(_secrets(url) if url else (), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def error_line(error: BaseException, url: str | None = None) -> str:
    """``error``'s message on one line (libpq's span several), passwords masked (``url``'s
    wherever echoed), or its type name when it has none."""
    return redact(" ".join(str(error).split()), url) or type(error).__name__


def _secrets(url: str) -> set[str]:
    """Every form of the passwords spelled out in ``url``: as libpq reads them and raw."""
    from psycopg import conninfo, errors  # only here: the CLI imports this module always

    found: set[str] = set()
    try:
        params = conninfo.conninfo_to_dict(url)
    except (errors.ProgrammingError, ValueError, TypeError):
        params = {}
    for key in ("password", "sslpassword"):
        if params.get(key):
            found.add(str(params[key]))
    for pattern in _PATTERNS:
        for match in pattern.finditer(url):
            raw = match.group(2)
            found |= {raw, urllib.parse.unquote(raw), raw.strip("'"), *raw.strip("'").split()}
            # an unencoded "@" or ":" in a URI password: libpq splits at the first "@" and
            # its error echoes the rest as the host ("failed to resolve host 'Secret9@...'")
            found |= set(re.split(r"[@:]", raw)) if pattern is _URI else set()
    return {s for s in found if s.strip() and s != MASK}
