"""The Bot API webhook as an ASGI app (Starlette): ``POST /telegram/webhook``.

It answers 200 only once the update's body is durably stored, unchanged, as
``raw/telegram/context_date=YYYY-MM-DD/<update_id>.json`` (or when it is a duplicate, or
from a chat that is not configured); Telegram retries any other answer. Neither the secret
token nor update bodies are ever logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tgstat.domain.lake import parse_update
from tgstat.ports.lake import LakeError, LakeStore
from tgstat.services.lake_ingest import store_update, wanted

MAX_BODY = 1 << 20
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class _BodyTooLargeError(Exception):
    pass


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
