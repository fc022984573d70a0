"""``tgstat lake webhook``: the Bot API webhook, storing every accepted update in the lake.

``POST /telegram/webhook`` answers 200 only once the update's body is durably stored,
unchanged, as ``raw/telegram/context_date=YYYY-MM-DD/<update_id>.json`` (or when it is a
duplicate, or from a chat that is not configured); Telegram retries any other answer.
Neither the secret token nor update bodies are ever logged.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.domain.errors import TgstatError
from tgstat.domain.lake import chat_id_of, parse_update, partition_day
from tgstat.flows.settings import Settings
from tgstat.ports.lake import LakeError, LakeStore

MAX_BODY = 1 << 20
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# setWebhook's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class SecretTokenError(TgstatError):
    """Raised when TGSTAT_BOT_SECRET_TOKEN is unset or not one Telegram accepts."""


class _BodyTooLargeError(Exception):
    pass


def _utc_now() -> datetime:
    return datetime.now(UTC)


def wanted(update: Mapping[str, Any], chat_ids: frozenset[int] | None) -> bool:
    """True when the update is to be stored: no chat filter, or its chat is in it."""
    return chat_ids is None or chat_id_of(update) in chat_ids


async def store_update(
    store: LakeStore,
    update: Mapping[str, Any],
    update_id: int,
    body: bytes,
    arrived_at: datetime,
    zone: tzinfo,
) -> bool:
    """Store ``body`` under the update's day (off the event loop); False for a duplicate."""
    day = partition_day(update, arrived_at, zone)
    return await anyio.to_thread.run_sync(store.put_raw, day, update_id, body)


def create_app(
    store: LakeStore,
    *,
    secret_token: str,
    zone: tzinfo,
    chat_ids: frozenset[int] | None,
    clock: Clock = _utc_now,
) -> Starlette:
    """The webhook app: ``POST /telegram/webhook`` and ``GET /healthz``."""
    secret = secret_token.encode()

    async def webhook(request: Request) -> JSONResponse:
        arrived_at = clock()
        given = request.headers.get(SECRET_HEADER)
        # headers are latin-1 text; compare the raw bytes so any header value is comparable
        if given is None or not hmac.compare_digest(given.encode("latin-1"), secret):
            return _answer(401, "wrong or missing secret token")
        try:
            body = await _read_body(request)
        except _BodyTooLargeError:
            return _answer(413, f"body over {MAX_BODY} bytes")
        except ClientDisconnect:
            return _answer(400, "client disconnected")
        update = parse_update(body)
        if update is None:
            return _answer(400, "not a JSON object with an integer update_id")
        if not wanted(update, chat_ids):
            return JSONResponse({"ok": True, "stored": False})
        update_id = update["update_id"]
        try:
            created = await store_update(store, update, update_id, body, arrived_at, zone)
        except LakeError as e:
            log.error("update %d not stored: %s", update_id, e)
            return _answer(500, "not stored; retry")
        return JSONResponse({"ok": True, "stored": created})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/telegram/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def _read_body(request: Request) -> bytes:
    """The body, refusing more than MAX_BODY bytes whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _BodyTooLargeError
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")


def run(args: argparse.Namespace, settings: Settings) -> int:
    token = secret_token(settings)
    app = create_app(
        FsspecLakeStore(settings.lake_root),
        secret_token=token,
        zone=zoneinfo.ZoneInfo(settings.lake_tz),
        chat_ids=settings.bot_chat_ids,
    )
    uvicorn.run(app, host=args.host, port=args.port)
    return 0
