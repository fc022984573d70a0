"""The lake, composed from settings: the store, the day to process, the bot's secrets and
its Bot API client."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx

from tgstat.adapters.duckdb_query import DuckDbLakeQuery
from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.telegram_bot_api import BotApiClient
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError
from tgstat.ports.lake import LakeError
from tgstat.services.lake_etl import EtlReport, yesterday

API_URL = "https://api.telegram.org"
# setWebhook's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


class BadDateError(TgstatError):
    """Raised when a day given on the command line or as a flow parameter is not a date."""


class SecretTokenError(TgstatError):
    """Raised when TGSTAT_BOT_SECRET_TOKEN is unset or not one Telegram accepts."""


class BotTokenMissingError(TgstatError):
    """Raised when a command needs TGSTAT_BOT_TOKEN and it is unset."""


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` calendar day."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadDateError(f"not a date (YYYY-MM-DD): {text!r}") from None


def etl_day(text: str | None, settings: Settings, now: datetime) -> date:
    """The day to process: ``text``, else yesterday in the lake time zone."""
    if text is not None:
        return parse_day(text)
    return yesterday(now, ZoneInfo(settings.lake_tz))


def describe(report: EtlReport) -> str:
    """The report in a few lines."""
    day = report.day.isoformat()
    if report.paths is None:
        lines = [f"lake etl {day}: no raw files, nothing written"]
    else:
        lines = [
            f"lake etl {day}: {report.files} raw files, {report.messages} messages,"
            f" {report.events} events -> {report.paths.messages}, {report.paths.events}"
        ]
    if report.kinds:
        lines.append("  updates: " + ", ".join(f"{k} {n}" for k, n in report.kinds.items()))
    if report.skipped:
        lines.append(f"  skipped {report.skipped} already in the previous day's raw files")
    if report.malformed:
        lines.append(f"  {report.malformed} malformed messages, kept in telegram_event")
    if report.quarantined:
        lines.append(f"  quarantined {len(report.quarantined)}: {_few(report.quarantined)}")
    if report.ignored:
        lines.append(f"  ignored {len(report.ignored)} not regular files: {_few(report.ignored)}")
    if report.swept:
        lines.append(f"  removed {len(report.swept)} stale temp files of killed writers")
    return "\n".join(lines)


def _few(names: tuple[str, ...], shown: int = 10) -> str:
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def lake_store(settings: Settings) -> FsspecLakeStore:
    """The lake at ``settings.lake_root`` (an ``s3://`` root needs the ``s3`` extra)."""
    try:
        return FsspecLakeStore(settings.lake_root)
    except ImportError as e:
        raise LakeError(
            f"cannot open the lake at {settings.lake_root}: {e} (pip install 'tgstat[s3]')"
        ) from e


def secret_token(settings: Settings) -> str:
    """TGSTAT_BOT_SECRET_TOKEN, checked against Telegram's rule for it."""
    token = settings.bot_secret_token
    if token is None:
        raise SecretTokenError(
            "TGSTAT_BOT_SECRET_TOKEN is not set: the webhook refuses to start without it"
            " (generate one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    if not _SECRET_FORMAT.fullmatch(token):
        raise SecretTokenError(
            "TGSTAT_BOT_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    return token


def bot_token(settings: Settings) -> str:
    """TGSTAT_BOT_TOKEN, or BotTokenMissingError."""
    if settings.bot_token is None:
        raise BotTokenMissingError("TGSTAT_BOT_TOKEN is not set: the Bot API needs the bot token")
    return settings.bot_token


@asynccontextmanager
async def bot_api(token: str) -> AsyncIterator[BotApiClient]:
    """A Bot API client for ``token`` over one httpx client, closed on exit."""
    # httpx logs every request URL at INFO, and the URL holds the token: keep them quiet.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    async with httpx.AsyncClient(base_url=f"{API_URL}/bot{token}/") as client:
        yield BotApiClient(client)


def lake_query(settings: Settings) -> DuckDbLakeQuery:
    """DuckDB over the enriched Parquet of the lake at ``settings.lake_root``."""
    store = lake_store(settings)
    return DuckDbLakeQuery(store.enriched_glob("telegram"), store.enriched_glob("telegram_event"))
