"""What is asked of the Bot API (every update kind), the client's errors, and the ``lake
poll`` / ``lake set-webhook`` commands, against the real local HTTP imitation of the Bot API
of test_lake_poll.py."""

from __future__ import annotations

import argparse
import traceback
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse

from tests.integration.test_lake_poll import (
    DAY,
    EVERY_CHAT,
    EVERY_KIND,
    NOON,
    TOKEN,
    Server,
    _error,
    at_noon,
    update,
)
from tests.integration.test_lake_poll import _api as _api  # the fixtures
from tests.integration.test_lake_poll import _lake as _lake
from tests.integration.test_lake_poll import _server as _server
from tgstat.adapters.duckdb_query import DuckDbLakeQuery
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.telegram_bot_api import BotApiClient
from tgstat.app import lake as lake_app
from tgstat.cli import Command, run_command
from tgstat.cli import lake as lake_poll
from tgstat.ports.bot_api import (
    BotApiError,
    BotRateLimitedError,
    BotTokenRejectedError,
    PollingConflictError,
)
from tgstat.services.lake_etl import run_etl
from tgstat.services.lake_ingest import ALLOWED_UPDATES, poll


class TestEveryKindDelivered:
    """set-webhook and poll ask Telegram for every kind the lake stores: member changes and
    reactions are delivered, stored and reach SQL (telegram_event)."""

    def test_allowed_updates_are_every_documented_kind(self) -> None:
        assert ALLOWED_UPDATES == EVERY_KIND

    async def test_member_changes_and_reactions_reach_sql(
        self, server: Server, api: BotApiClient, lake: FsspecLakeStore, tmp_path: Path
    ) -> None:
        chat = {"id": -100, "type": "supergroup", "title": "G"}
        ann = {"id": 7, "is_bot": False, "first_name": "Ann"}
        bot = {"id": 999, "is_bot": True, "first_name": "LakeBot"}
        at = int(NOON.timestamp()) - 60
        server.fake.pending = [
            update(1),
            {
                "update_id": 2,
                "chat_member": {
                    "chat": chat,
                    "from": ann,
                    "date": at,
                    "old_chat_member": {"status": "left", "user": ann},
                    "new_chat_member": {"status": "member", "user": ann},
                },
            },
            {
                "update_id": 3,
                "message_reaction": {
                    "chat": chat,
                    "message_id": 1,
                    "user": ann,
                    "date": at + 1,
                    "old_reaction": [],
                    "new_reaction": [{"type": "emoji", "emoji": "👍"}],
                },
            },
            {
                "update_id": 4,
                "message_reaction_count": {
                    "chat": chat,
                    "message_id": 1,
                    "date": at + 2,
                    "reactions": [{"type": {"type": "emoji", "emoji": "👍"}, "total_count": 3}],
                },
            },
            {
                "update_id": 5,
                "my_chat_member": {
                    "chat": chat,
                    "from": ann,
                    "date": at + 3,
                    "old_chat_member": {"status": "member", "user": bot},
                    "new_chat_member": {"status": "administrator", "user": bot},
                },
            },
        ]
        report = await poll(
            lake,
            api,
            offset_file=tmp_path / "o",
            zone=UTC,
            gate=EVERY_CHAT,
            clock=at_noon,
            stop_after=1,
        )
        assert (report.stats.received, report.stats.stored) == (5, 5)
        assert run_etl(lake, DAY).kinds == {
            "chat_member": 1,
            "message": 1,
            "message_reaction": 1,
            "message_reaction_count": 1,
            "my_chat_member": 1,
        }
        sql = "SELECT update_id, kind, chat_id, user_id, date FROM telegram_event ORDER BY 1"
        query = DuckDbLakeQuery(lake.enriched_glob(), lake.enriched_glob("telegram_event"))
        assert query.query(sql)[1] == [
            (2, "chat_member", -100, 7, at),
            (3, "message_reaction", -100, 7, at + 1),
            (4, "message_reaction_count", -100, None, at + 2),
            (5, "my_chat_member", -100, 999, at + 3),
        ]


class TestErrors:
    """Telegram's errors become BotApiErrors whose messages never hold the token."""

    async def test_rejected_token(self, server: Server) -> None:
        """401 -> BotTokenRejectedError, pointing at TGSTAT_BOT_TOKEN, token redacted."""
        wrong = "999:WRONG-token"
        async with httpx.AsyncClient(base_url=f"{server.url}/bot{wrong}/") as client:
            with pytest.raises(BotTokenRejectedError) as raised:
                await BotApiClient(client).get_updates(None, 0, ALLOWED_UPDATES)
        assert raised.value.error_code == 401
        assert "TGSTAT_BOT_TOKEN" in str(raised.value)
        assert wrong not in str(raised.value)

    async def test_conflict(self, server: Server, api: BotApiClient) -> None:
        """409 -> PollingConflictError with Telegram's description."""
        server.fake.webhook = {"url": "https://example.org/telegram/webhook"}
        with pytest.raises(PollingConflictError, match="webhook is active") as raised:
            await api.get_updates(None, 0, ALLOWED_UPDATES)
        assert not raised.value.transient

    async def test_rate_limited(self, server: Server, api: BotApiClient) -> None:
        """429 -> BotRateLimitedError carrying retry_after."""
        server.fake.failures = [_error(429, "Too Many Requests: retry after 7", retry_after=7)]
        with pytest.raises(BotRateLimitedError, match="retry after 7") as raised:
            await api.get_updates(None, 0, ALLOWED_UPDATES)
        assert raised.value.retry_after == 7
        assert raised.value.transient

    async def test_not_a_bot_api_answer(self, server: Server, api: BotApiClient) -> None:
        """A proxy's HTML/text error page -> BotApiError with the status, URL redacted."""
        server.fake.failures = [PlainTextResponse("Bad Gateway", 502)]
        with pytest.raises(BotApiError) as raised:
            await api.get_updates(None, 0, ALLOWED_UPDATES)
        assert raised.value.error_code == 502
        assert "bot<token>/getUpdates" in str(raised.value)
        assert TOKEN not in str(raised.value)

    async def test_unreachable_server(self) -> None:
        """No answer -> a transient BotApiError; neither it nor its traceback has the token."""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:9/bot{TOKEN}/") as client:
            with pytest.raises(BotApiError) as raised:
                await BotApiClient(client).get_updates(None, 0, ALLOWED_UPDATES)
        assert raised.value.error_code is None
        assert raised.value.transient
        assert TOKEN not in "".join(traceback.format_exception(raised.value))
        assert "bot<token>" in str(raised.value)

    async def test_set_webhook(self, server: Server, api: BotApiClient) -> None:
        """setWebhook sends the URL, the secret token and allowed_updates."""
        await api.set_webhook("https://example.org/telegram/webhook", "s3cret", ALLOWED_UPDATES)
        assert server.fake.webhook == {
            "url": "https://example.org/telegram/webhook",
            "secret_token": "s3cret",
            "allowed_updates": ALLOWED_UPDATES,
        }

    async def test_set_webhook_refused(self, server: Server, api: BotApiClient) -> None:
        """Telegram's 400 description reaches the user."""
        server.fake.failures = [_error(400, "Bad Request: bad webhook: HTTPS url must be provided")]
        with pytest.raises(BotApiError, match="HTTPS url must be provided"):
            await api.set_webhook("http://example.org/", "s3cret", ALLOWED_UPDATES)


class TestCommands:
    """``lake poll`` and ``lake set-webhook`` refuse clearly without their secrets."""

    @pytest.mark.parametrize(
        ("command", "env", "expected"),
        [
            (lake_poll.poll_run, {}, "TGSTAT_BOT_TOKEN is not set"),
            (lake_poll.set_webhook_run, {}, "TGSTAT_BOT_TOKEN is not set"),
            (
                lake_poll.set_webhook_run,
                {"TGSTAT_BOT_TOKEN": TOKEN},
                "TGSTAT_BOT_SECRET_TOKEN is not set",
            ),
        ],
        ids=["poll", "set-webhook-no-token", "set-webhook-no-secret"],
    )
    def test_refuses_without_secrets(
        self,
        command: Command,
        env: dict[str, str],
        expected: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Exit 2 and one line on stderr that does not show the token."""
        for name in ("TGSTAT_BOT_TOKEN", "TGSTAT_BOT_SECRET_TOKEN", "TGSTAT_LAKE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TGSTAT_HOME", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        args = argparse.Namespace(timeout=0, url="https://example.org/telegram/webhook")
        assert run_command(command, args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert expected in err
        assert TOKEN not in err

    def test_set_webhook_command(
        self,
        server: Server,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """With both secrets it registers the webhook and prints no secret."""
        monkeypatch.setattr(lake_app, "API_URL", server.url)
        monkeypatch.setenv("TGSTAT_HOME", str(tmp_path))
        monkeypatch.setenv("TGSTAT_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("TGSTAT_BOT_SECRET_TOKEN", "webhook-secret")
        url = "https://example.org/telegram/webhook"
        assert run_command(lake_poll.set_webhook_run, argparse.Namespace(url=url)) == 0
        assert server.fake.webhook == {
            "url": url,
            "secret_token": "webhook-secret",
            "allowed_updates": EVERY_KIND,
        }
        out = capsys.readouterr()
        assert f"webhook set to {url}" in out.out
        assert "webhook-secret" not in out.out + out.err
        assert TOKEN not in out.out + out.err
