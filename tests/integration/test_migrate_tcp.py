"""``tgstat migrate`` against a PostgreSQL reached over TCP without TLS, as a local one is."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import conninfo

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.conftest import drop_database, fresh_database
from tgstat.app.database import socket_path
from tgstat.app.pg_proxy import Gate, PostgresProxy
from tgstat.app.prefect_server import free_port


@pytest.fixture(name="tcp_url")
def _tcp_url(server_url: str) -> Iterator[str]:
    """An empty database of the test server on 127.0.0.1:PORT with a password in the URL,
    TLS refused (through ``tgstat db serve``'s proxy)."""
    if not str(conninfo.conninfo_to_dict(server_url).get("host", "")).startswith("/"):
        pytest.skip("the test server is not the embedded one")
    database = fresh_database(server_url, None)
    port, stopping = free_port(), threading.Event()
    proxy = PostgresProxy(socket_path(server_url), Gate("postgres", database))
    thread = threading.Thread(
        target=asyncio.run, args=(proxy.serve("127.0.0.1", port, stopping.is_set),)
    )
    thread.start()
    try:
        yield f"postgresql://postgres:pw-secret@127.0.0.1:{port}/{database}"
    finally:
        stopping.set()
        thread.join(10)
        drop_database(server_url, database)


class TestMigrateOverTcp:
    """A URL without sslmode behaves as libpq's ``prefer``: plain TCP when TLS is refused."""

    def test_plain_url_migrates(self, tcp_url: str) -> None:
        done = run_tgstat("migrate", env=clean_env(TGSTAT_DATABASE_URL=tcp_url))
        assert done.returncode == 0, done.stderr
        assert "schema is up to date" in done.stdout
        assert "pw-secret" not in done.stdout + done.stderr
        with psycopg.connect(tcp_url, sslmode="disable") as conn:
            row = conn.execute("SELECT count(*) FROM config__tg_channel").fetchone()
        assert row == (0,)
