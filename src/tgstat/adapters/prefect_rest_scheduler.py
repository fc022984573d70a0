"""Follow-up runs created through the Prefect server's REST API (httpx only, no prefect)."""

from __future__ import annotations

from typing import Any

import httpx

from tgstat.domain.planning import FollowUp
from tgstat.ports.scheduler import Scheduler, SchedulerError

_DETAIL_MAX_CHARS = 300


class PrefectRestScheduler(Scheduler):
    """Creates one scheduled run of the collection deployment per follow-up.

    ``client.base_url`` is the Prefect API URL, ``/api`` included. Prefect returns the existing
    run for a known idempotency key, so scheduling a follow-up twice makes one run.
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
        self._deployment_id: str | None = None

    async def schedule(self, followup: FollowUp) -> None:
        deployment_id = await self._find_deployment()
        response = await self._post(
            f"/deployments/{deployment_id}/create_flow_run", _to_flow_run(followup)
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            # deleted (e.g. serve restarted under a new id): look it up again next time
            self._deployment_id = None
        _check(response)

    async def _find_deployment(self) -> str:
        if self._deployment_id is not None:
            return self._deployment_id
        body = {
            "flows": {"name": {"any_": [self._flow_name]}},
            "deployments": {"name": {"any_": [self._deployment_name]}},
            "limit": 1,
        }
        response = _check(await self._post("/deployments/filter", body))
        found = _json(response)
        if not isinstance(found, list) or not found:
            raise SchedulerError(
                f"no deployment {self._deployment_name!r} of flow {self._flow_name!r} on"
                f" {self._api_url}: start `python -m tgstat.flows.serve`"
            )
        self._deployment_id = str(found[0]["id"])
        return self._deployment_id

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


def _to_flow_run(followup: FollowUp) -> dict[str, Any]:
    channel = str(followup.channel_id)
    return {
        "name": f"followup-{channel}-{followup.post_id}-{followup.horizon.label}",
        "parameters": {"channel": channel},
        "state": {
            "type": "SCHEDULED",
            "state_details": {"scheduled_time": followup.due_at.isoformat()},
        },
        "idempotency_key": followup.idempotency_key,
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
