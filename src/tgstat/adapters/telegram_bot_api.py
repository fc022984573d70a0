"""BotApiClient: the Bot API's getUpdates and setWebhook over httpx."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from tgstat.ports.bot_api import (
    BotApi,
    BotApiError,
    BotRateLimitedError,
    BotTokenRejectedError,
    PollingConflictError,
)

_ERRORS: dict[int, type[BotApiError]] = {
    401: BotTokenRejectedError,
    409: PollingConflictError,
    429: BotRateLimitedError,
}
_HINTS = {
    401: "check TGSTAT_BOT_TOKEN",
    409: "delete the webhook (or stop the other poller) before `tgstat lake poll`",
}
_MARGIN_S = 10  # the HTTP read timeout exceeds the long-poll timeout by this much


class BotApiClient(BotApi):
    """The Bot API over a ready ``httpx.AsyncClient`` whose ``base_url`` is
    ``https://api.telegram.org/bot<token>/`` (or a local Bot API server's equivalent).

    Error messages name the method and a redacted URL, never the token.

    Long-polled updates arrive inside one JSON array, so the bytes returned for each are a
    compact re-serialization (``ensure_ascii=False``, no spaces): the same JSON value as
    Telegram sent, not byte-identical to it (a webhook delivery is stored byte-for-byte).
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        segment = client.base_url.path.strip("/").split("/")[-1]
        self._secret = segment if segment.startswith("bot") and len(segment) > 3 else None

    async def get_updates(
        self, offset: int | None, timeout_s: int, allowed_updates: Sequence[str]
    ) -> list[tuple[int, bytes]]:
        params: dict[str, Any] = {"timeout": timeout_s, "allowed_updates": list(allowed_updates)}
        if offset is not None:
            params["offset"] = offset
        result = await self._call("getUpdates", params, read_timeout=timeout_s + _MARGIN_S)
        if not isinstance(result, list):
            raise BotApiError("getUpdates: the result is not a list of updates")
        return [_to_raw(update) for update in result]

    async def set_webhook(
        self, url: str, secret_token: str, allowed_updates: Sequence[str]
    ) -> None:
        params = {
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": list(allowed_updates),
        }
        await self._call("setWebhook", params, read_timeout=_MARGIN_S * 3)

    async def _call(self, method: str, params: dict[str, Any], *, read_timeout: float) -> Any:
        timeout = httpx.Timeout(read_timeout, connect=_MARGIN_S)
        try:
            response = await self._client.post(method, json=params, timeout=timeout)
        except httpx.HTTPError as e:
            raise BotApiError(
                self._redact(f"{method}: no answer from {self._url(method)}: {e!r}")
            ) from None  # httpx errors carry the request, whose URL holds the token
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise BotApiError(
                f"{method}: HTTP {response.status_code} from {self._url(method)},"
                " not a Bot API answer",
                error_code=response.status_code,
            )
        if payload.get("ok") is True:
            return payload.get("result")
        raise self._to_error(method, response.status_code, payload)

    def _to_error(self, method: str, status: int, payload: dict[str, Any]) -> BotApiError:
        code = payload.get("error_code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else status
        description = str(payload.get("description") or "no description")
        parameters = payload.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        if not isinstance(retry_after, int | float) or isinstance(retry_after, bool):
            retry_after = None
        message = f"{method} failed ({code}): {description}"
        if code == 429 and retry_after is not None:
            message += f"; retry after {retry_after} s"
        if code in _HINTS:
            message += f"; {_HINTS[code]}"
        return _ERRORS.get(code, BotApiError)(
            self._redact(message), error_code=code, retry_after=retry_after
        )

    def _url(self, method: str) -> str:
        return self._redact(str(self._client.base_url.join(method)))

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "bot<token>") if self._secret else text


def _to_raw(update: object) -> tuple[int, bytes]:
    if not isinstance(update, dict):
        raise BotApiError("getUpdates: an update is not a JSON object")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BotApiError("getUpdates: an update has no integer update_id")
    body = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
    return update_id, body
