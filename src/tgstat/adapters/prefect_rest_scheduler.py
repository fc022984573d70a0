"""Follow-up runs created through the Prefect server's REST API (httpx only, no prefect)."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import httpx

from tgstat.domain.planning import FollowUpRun
from tgstat.ports.scheduler import Scheduler, SchedulerError

_DETAIL_MAX_CHARS = 300


_PAGE = 200
"""Deployments read per ``/deployments/filter`` request (Prefect's default page limit)."""


class PrefectRestScheduler(Scheduler):
    """Creates one scheduled run of a collection deployment per follow-up run (session and
    minute).

    ``client.base_url`` is the Prefect API URL, ``/api`` included. The run goes to the
    deployment of flow ``flow_name`` whose default parameter ``phone`` is the session's
    phone (one deployment per session, each served by its own worker), else to the
    deployment named ``deployment_name``; the lookup is cached per phone and done again
    when Prefect answers 404 (the deployment was deleted or re-created). Prefect returns
    the existing run for a known idempotency key, so scheduling a run twice makes one.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        deployment_name: str = "tg-collect",
        flow_name: str = "tg-collect",
    ) -> None:
        self._client = client
        self._deployment_name = deployment_name
        self._flow_name = flow_name
        self._deployments: dict[str, str] = {}

    async def schedule(self, run: FollowUpRun) -> None:
        """Raises SchedulerError (server unreachable, no deployment, an HTTP error)."""
        for attempt in (1, 2):
            deployment_id = await self._find_deployment(run.phone)
            response = await self._post(
                f"/deployments/{deployment_id}/create_flow_run", _to_flow_run(run)
            )
            if response.status_code != httpx.codes.NOT_FOUND or attempt == 2:
                break
            # deleted (e.g. serve restarted under a new id): look it up again, once
            self._deployments.pop(run.phone, None)
        _check(response)

    async def _find_deployment(self, phone: str) -> str:
        cached = self._deployments.get(phone)
        if cached is not None:
            return cached
        deployments = await self._deployments_of_flow()
        mine = [d for d in deployments if _same_phone(_default_phone(d), phone)]
        named = [d for d in deployments if d.get("name") == self._deployment_name]
        if not mine and not named:
            raise SchedulerError(
                f"no deployment {self._deployment_name!r} of flow {self._flow_name!r}, nor one"
                f" for the session {mask_phone(phone)}, on {self._api_url}: start"
                " `python -m tgstat.flows.serve`"
            )
        self._deployments[phone] = str((mine or named)[0]["id"])
        return self._deployments[phone]

    async def _deployments_of_flow(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            body = {
                "flows": {"name": {"any_": [self._flow_name]}},
                "sort": "NAME_ASC",
                "limit": _PAGE,
                "offset": len(found),
            }
            page = _json(_check(await self._post("/deployments/filter", body)))
            if not isinstance(page, list):
                raise SchedulerError(f"Prefect API {self._api_url} answered {page!r:.80}")
            found += [d for d in page if isinstance(d, dict)]
            if len(page) < _PAGE:
                return found

    @property
    def _api_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client.post(path, json=body)
        except httpx.TransportError as e:
            reason = " ".join(str(e).split()) or "no detail"
            raise SchedulerError(
                f"cannot reach the Prefect API at {self._api_url}: {type(e).__name__}: {reason}"
            ) from e


def mask_phone(phone: str) -> str:
    """The phone with all but its last two characters hidden, for messages and run names."""
    return "*" * max(0, len(phone) - 2) + phone[-2:]


def _default_phone(deployment: dict[str, Any]) -> str | None:
    params = deployment.get("parameters")
    phone = params.get("phone") if isinstance(params, dict) else None
    return phone if isinstance(phone, str) else None


def _same_phone(a: str | None, b: str) -> bool:
    """Equal, or the same digits (``+1 555-0100`` is ``+15550100``)."""
    if a is None:
        return False
    digits_a, digits_b = (re.sub(r"\D", "", x) for x in (a, b))
    return a == b or (bool(digits_a) and digits_a == digits_b)


def _to_flow_run(run: FollowUpRun) -> dict[str, Any]:
    minute = run.minute.astimezone(UTC)
    return {
        "name": f"followups-s{run.session_pk}-{minute:%Y%m%d-%H%M}",
        "parameters": {
            "phone": run.phone,
            "followup_at": minute.isoformat(),
            "followup_channels": [str(c) for c in run.channel_ids],
        },
        "state": {
            "type": "SCHEDULED",
            "state_details": {"scheduled_time": run.at.isoformat()},
        },
        "idempotency_key": run.idempotency_key,
        "tags": ["tgstat", "followup"],
    }


def _check(response: httpx.Response) -> httpx.Response:
    """The response when it is 2xx; otherwise SchedulerError naming URL, status and detail."""
    if response.is_success:
        return response
    raise SchedulerError(
        f"Prefect API {response.request.method} {response.request.url} answered"
        f" {response.status_code}: {_detail(response)}"
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as e:
        raise SchedulerError(
            f"Prefect API {response.request.url} answered non-JSON: {response.text[:80]!r}"
        ) from e


def _detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        # HTTPException gives "detail"; request validation gives "exception_detail"
        detail = payload.get("detail") or payload.get("exception_detail") or payload
    else:
        detail = response.text or response.reason_phrase
    text = " ".join(str(detail).split())
    return text[:_DETAIL_MAX_CHARS]
