"""The Bot API webhook as an ASGI app (Starlette): ``POST /telegram/webhook``.

It answers 200 only once the update's body is durably stored, unchanged, as
``raw/telegram/context_date=YYYY-MM-DD/<update_id>.json`` (the day it arrived), or when it
is a duplicate, or dropped (by the chat filter, or for an ``update_id`` the lake cannot
name a file after: logged and counted); Telegram retries any other answer, so nothing but
the ``update_id`` and the chat is parsed before storing. A body that does not arrive
within ``body_timeout_s`` is answered 408. ``GET /telegram/stats`` (with the secret header)
shows the counts. Neither the secret token nor update bodies are ever logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tgstat.ports.lake import LakeError, LakeStore
from tgstat.services.lake_ingest import ChatGate, IngestStats, Outcome, ingest

MAX_BODY = 1 << 20
BODY_TIMEOUT_S = 30.0
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
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> Starlette:
    """The webhook app: ``POST /telegram/webhook``, ``GET /telegram/stats``, ``GET /healthz``.

    With ``chat_ids``, the chat migrations the lake remembers are read now (a LakeError
    or ChatFilterStateError if they cannot be).
    """
    secret = secret_token.encode()
    gate = ChatGate.open(store, chat_ids)
    stats = IngestStats(since=clock())

    def authorized(request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        # headers are latin-1 text; compare the raw bytes so any header value is comparable
        return given is not None and hmac.compare_digest(given.encode("latin-1"), secret)

    async def webhook(request: Request) -> JSONResponse:
        arrived_at = clock()
        if not authorized(request):
            return _answer(401, "wrong or missing secret token")
        try:
            async with asyncio.timeout(body_timeout_s):
                body = await _read_body(request)
        except _BodyTooLargeError:
            return _answer(413, f"body over {MAX_BODY} bytes")
        except ClientDisconnect:
            return _answer(400, "client disconnected")
        except TimeoutError:
            return _answer(408, f"body not received within {body_timeout_s:g} s")
        update = _parse_object(body)
        if update is None:
            return _answer(400, "not a JSON object with an update_id")
        try:
            outcome = await ingest(store, gate, stats, update, body, arrived_at, zone)
        except LakeError as e:
            log.error("update %d not stored: %s", update["update_id"], e)
            return _answer(500, "not stored; retry")
        return JSONResponse({"ok": True, "stored": outcome is Outcome.STORED})

    async def stats_page(request: Request) -> JSONResponse:
        if not authorized(request):
            return _answer(401, "wrong or missing secret token")
        kept = gate.kept
        return JSONResponse(
            {
                "ok": True,
                **stats.to_json(),
                "kept_chats": sorted(kept) if kept is not None else None,
                "migrations": {str(old): new for old, new in sorted(gate.migrations.items())},
            }
        )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/telegram/webhook", webhook, methods=["POST"]),
            Route("/telegram/stats", stats_page, methods=["GET"]),
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


def _parse_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object in ``body`` if it has an ``update_id`` (of any value: ``ingest``
    judges it); else None."""
    try:
        update = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError; deep nesting recurses
        return None
    return update if isinstance(update, dict) and "update_id" in update else None


def _answer(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)
