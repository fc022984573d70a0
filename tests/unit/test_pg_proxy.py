"""The startup message checks of ``tgstat db serve``'s TCP front, without a server."""

from __future__ import annotations

import struct

import pytest

from tgstat.app.pg_proxy import Gate, _params, error_response


def startup(**params: str) -> bytes:
    body = struct.pack("!I", 196608)  # protocol 3.0
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


class TestGate:
    """One user and one database pass; the database defaults to the user, as in libpq."""

    @pytest.mark.parametrize(
        ("params", "refused"),
        [
            ({"user": "tgstat", "database": "tgstat"}, None),
            ({"user": "tgstat"}, None),
            ({"user": "postgres", "database": "tgstat"}, 'only user "tgstat", not "postgres"'),
            ({"user": "tgstat", "database": "prefect"}, 'only database "tgstat", not "prefect"'),
            ({"database": "tgstat"}, 'only user "tgstat", not "None"'),
        ],
    )
    def test_refusal(self, params: dict[str, str], refused: str | None) -> None:
        reason = Gate("tgstat", "tgstat").refusal(_params(startup(**params)))
        if refused is None:
            assert reason is None
        else:
            assert reason is not None
            assert refused in reason

    def test_error_response_is_a_fatal_message(self) -> None:
        message = error_response("no")
        assert message[:1] == b"E"
        assert struct.unpack("!I", message[1:5])[0] == len(message) - 1
        assert b"SFATAL\0" in message
        assert b"C28000\0" in message
        assert message.endswith(b"Mno\0\0")
