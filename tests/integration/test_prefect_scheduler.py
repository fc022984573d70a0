"""PrefectRestScheduler and the local Prefect server, against a real Prefect server."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tgstat.adapters.prefect_rest_scheduler import PrefectRestScheduler
from tgstat.app.prefect_server import PrefectServerError, free_port, local_prefect_server
from tgstat.app.supervisor import PortInUseError
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, PostId
from tgstat.domain.planning import FollowUp
from tgstat.ports.scheduler import SchedulerError

FLOW = "tg-collect"
_post_ids = itertools.count(1000)


def followup(channel: int = 1234567, horizon: Horizon = Horizon.H1) -> FollowUp:
    """A follow-up of a post no other test uses (idempotency keys are per flow, server-wide)."""
    due = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    return FollowUp(ChannelId(channel), PostId(next(_post_ids)), horizon, due)


@pytest.fixture(name="client")
async def _client(prefect_api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=prefect_api_url, timeout=10) as client:
        yield client


async def create_deployment(client: httpx.AsyncClient, name: str) -> str:
    """A deployment of flow ``tg-collect`` (nobody serves it: its runs stay scheduled)."""
    flow = await client.post("/flows/", json={"name": FLOW})
    flow.raise_for_status()
    deployment = await client.post(
        "/deployments/", json={"name": name, "flow_id": flow.json()["id"]}
    )
    deployment.raise_for_status()
    return str(deployment.json()["id"])


@pytest.fixture(name="deployment_id")
async def _deployment_id(client: httpx.AsyncClient) -> str:
    # POST /deployments/ upserts by (flow, name): every test sees the same deployment
    return await create_deployment(client, "tg-collect")


async def runs_of(client: httpx.AsyncClient, deployment_id: str) -> list[dict[str, Any]]:
    response = await client.post(
        "/flow_runs/filter", json={"deployments": {"id": {"any_": [deployment_id]}}}
    )
    response.raise_for_status()
    runs: list[dict[str, Any]] = response.json()
    return runs


async def run_by_key(client: httpx.AsyncClient, deployment_id: str, key: str) -> dict[str, Any]:
    [run] = [r for r in await runs_of(client, deployment_id) if r["idempotency_key"] == key]
    return run


def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00"))


class TestSchedule:
    """A follow-up becomes one scheduled run of the tg-collect deployment."""

    async def test_creates_a_scheduled_run_at_the_due_instant(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup(channel=1234567, horizon=Horizon.H24)

        await PrefectRestScheduler(client).schedule(item)

        run = await run_by_key(client, deployment_id, item.idempotency_key)
        assert run["deployment_id"] == deployment_id
        assert run["parameters"] == {"channel": "1234567"}
        assert run["state"]["type"] == "SCHEDULED"
        assert parse(run["next_scheduled_start_time"]) == item.due_at
        assert parse(run["expected_start_time"]) == item.due_at
        assert run["name"] == f"followup-1234567-{item.post_id}-24h"
        assert {"tgstat", "followup"} <= set(run["tags"])

    async def test_the_same_followup_twice_makes_one_run(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup()
        scheduler = PrefectRestScheduler(client)
        before = len(await runs_of(client, deployment_id))

        await scheduler.schedule(item)
        await scheduler.schedule(item)
        await PrefectRestScheduler(client).schedule(item)  # a later cycle, a new adapter

        assert len(await runs_of(client, deployment_id)) == before + 1

    async def test_a_run_survives_redeployment(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup()
        await PrefectRestScheduler(client).schedule(item)

        # serve upserts its deployment on every start: same id, only auto-scheduled runs go
        assert await create_deployment(client, "tg-collect") == deployment_id
        assert (await run_by_key(client, deployment_id, item.idempotency_key))["state_type"] == (
            "SCHEDULED"
        )

    async def test_each_horizon_gets_its_own_run(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        one_hour = followup(horizon=Horizon.H1)
        one_day = FollowUp(
            one_hour.channel_id, one_hour.post_id, Horizon.H24, one_hour.due_at + timedelta(days=1)
        )
        scheduler = PrefectRestScheduler(client)

        await scheduler.schedule(one_hour)
        await scheduler.schedule(one_day)

        for item in (one_hour, one_day):
            run = await run_by_key(client, deployment_id, item.idempotency_key)
            assert parse(run["next_scheduled_start_time"]) == item.due_at


class TestErrors:
    """Server down, no deployment or a deleted one: a SchedulerError with a clear message."""

    async def test_server_down_names_the_url(self) -> None:
        url = f"http://127.0.0.1:{free_port()}/api"
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            with pytest.raises(SchedulerError, match="cannot reach the Prefect API") as e:
                await PrefectRestScheduler(client).schedule(followup())
        assert url in str(e.value)
        assert "\n" not in str(e.value)

    async def test_missing_deployment_names_it(self, client: httpx.AsyncClient) -> None:
        scheduler = PrefectRestScheduler(client, deployment_name="nope")

        with pytest.raises(SchedulerError, match="no deployment 'nope' of flow 'tg-collect'") as e:
            await scheduler.schedule(followup())
        assert str(client.base_url).rstrip("/") in str(e.value)
        assert "tgstat.flows.serve" in str(e.value)

    async def test_a_deleted_deployment_is_looked_up_again(self, client: httpx.AsyncClient) -> None:
        name = "tg-collect-redeployed"
        old_id = await create_deployment(client, name)
        scheduler = PrefectRestScheduler(client, deployment_name=name)
        await scheduler.schedule(followup())
        (await client.delete(f"/deployments/{old_id}")).raise_for_status()
        item = followup()

        with pytest.raises(SchedulerError, match=r"answered 404: Deployment not found"):
            await scheduler.schedule(item)

        # retried on the next cycle: same key, a run of the new deployment (Prefect deleted
        # the old deployment's scheduled runs with it, so the key is free again)
        new_id = await create_deployment(client, name)
        await scheduler.schedule(item)
        assert (await run_by_key(client, new_id, item.idempotency_key))["deployment_id"] == new_id

    async def test_http_errors_carry_status_and_detail(self, prefect_api_url: str) -> None:
        # a base URL without /api: every path answers 404
        async with httpx.AsyncClient(
            base_url=prefect_api_url.removesuffix("/api"), timeout=10
        ) as client:
            with pytest.raises(SchedulerError, match=r"/deployments/filter answered 404"):
                await PrefectRestScheduler(client).schedule(followup())


class TestLocalPrefectServer:
    """Starting the local server fails fast: a busy port before anything starts, a server
    that dies with the reason from its log."""

    def test_a_busy_port_is_a_clear_error(self, tmp_path: Path) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with (
                pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"),
                local_prefect_server(tmp_path, port=port),
            ):
                pass
        assert not (tmp_path / "pg").exists()  # nothing started

    def test_a_server_that_dies_names_its_log(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PREFECT_SERVER_LOGGING_LEVEL", "NOPE")  # its settings fail to load
        with (
            pytest.raises(PrefectServerError, match="exited with code") as e,
            local_prefect_server(tmp_path),
        ):
            pass
        assert str(tmp_path / "prefect" / "server.log") in str(e.value)
        assert "validation error" in str(e.value)
