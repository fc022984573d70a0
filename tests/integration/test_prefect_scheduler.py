"""PrefectRestScheduler and the local Prefect server, against a real Prefect server."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tgstat.adapters.prefect_rest_scheduler import PrefectRestScheduler
from tgstat.app.prefect_server import PrefectServerError, free_port, local_prefect_server
from tgstat.app.supervisor import PortInUseError
from tgstat.domain.horizons import Horizon
from tgstat.domain.ids import ChannelId, PostId, SessionPk
from tgstat.domain.planning import FollowUp, FollowUpRun, plan_runs
from tgstat.ports.scheduler import SchedulerError

FLOW = "tg-collect"
_minutes = itertools.count()
PHONE = "+15550100"


def followup_run(
    session: int = 7, phone: str = PHONE, channels: tuple[int, ...] = (1234567,)
) -> FollowUpRun:
    """A run of a minute no other test uses (idempotency keys are per flow, server-wide)."""
    minute = datetime(2030, 1, 2, 3, 4, tzinfo=UTC) + timedelta(minutes=next(_minutes))
    due = minute + timedelta(seconds=5, microseconds=678000)
    return FollowUpRun(
        SessionPk(session), phone, minute, tuple(ChannelId(c) for c in channels), (due,)
    )


@pytest.fixture(name="client")
async def _client(prefect_api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=prefect_api_url, timeout=10) as client:
        yield client


async def create_deployment(
    client: httpx.AsyncClient, name: str, parameters: dict[str, Any] | None = None
) -> str:
    """A deployment of flow ``tg-collect`` (nobody serves it: its runs stay scheduled)."""
    flow = await client.post("/flows/", json={"name": FLOW})
    flow.raise_for_status()
    deployment = await client.post(
        "/deployments/",
        json={"name": name, "flow_id": flow.json()["id"], "parameters": parameters or {}},
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
    """A follow-up run becomes one scheduled run of a tg-collect deployment."""

    async def test_creates_a_scheduled_run_at_its_instant(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup_run(session=7, channels=(1234567, 7654321))

        await PrefectRestScheduler(client).schedule(item)

        run = await run_by_key(client, deployment_id, item.idempotency_key)
        assert run["deployment_id"] == deployment_id
        assert run["parameters"] == {
            "phone": PHONE,
            "followup_at": item.minute.isoformat(),
            "followup_channels": ["1234567", "7654321"],
        }
        assert run["state"]["type"] == "SCHEDULED"
        assert parse(run["next_scheduled_start_time"]) == item.at
        assert parse(run["expected_start_time"]) == item.at
        assert run["name"] == f"followups-s7-{item.minute:%Y%m%d-%H%M}"
        assert PHONE not in run["name"]
        assert {"tgstat", "followup"} <= set(run["tags"])

    async def test_the_same_session_and_minute_make_one_run(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup_run(channels=(1,))
        second_channel = attrs.evolve(item, channel_ids=(2,), instants=(item.minute,))
        scheduler = PrefectRestScheduler(client)
        before = len(await runs_of(client, deployment_id))

        await scheduler.schedule(item)
        await scheduler.schedule(second_channel)
        await PrefectRestScheduler(client).schedule(item)  # a later cycle, a new adapter

        assert len(await runs_of(client, deployment_id)) == before + 1
        # Prefect answers with the first run as it was: the run reads its channels from
        # the database when it starts, not from these parameters
        run = await run_by_key(client, deployment_id, item.idempotency_key)
        assert run["parameters"]["followup_channels"] == ["1"]

    async def test_each_minute_and_session_gets_its_own_run(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        one = followup_run(session=7)
        next_minute = followup_run(session=7)
        other_session = attrs.evolve(one, session_pk=SessionPk(8))
        scheduler = PrefectRestScheduler(client)

        for item in (one, next_minute, other_session):
            await scheduler.schedule(item)

        keys = {r["idempotency_key"] for r in await runs_of(client, deployment_id)}
        assert {one.idempotency_key, next_minute.idempotency_key} <= keys
        assert other_session.idempotency_key in keys

    async def test_a_replanned_followup_after_a_crashed_run_gets_a_new_run(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        late = FollowUp(
            ChannelId(1234567), PostId(1), Horizon.H1, datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
        )
        [(first, _)] = plan_runs([late], SessionPk(7), PHONE, now=late.due_at - timedelta(hours=1))
        scheduler = PrefectRestScheduler(client)
        await scheduler.schedule(first)
        crashed = await run_by_key(client, deployment_id, first.idempotency_key)
        (
            await client.post(
                f"/flow_runs/{crashed['id']}/set_state",
                json={"state": {"type": "CRASHED"}, "force": True},
            )
        ).raise_for_status()

        # the next cycle, three minutes after the instant, plans it again
        [(again, _)] = plan_runs(
            [late], SessionPk(7), PHONE, now=late.due_at + timedelta(minutes=3)
        )
        await scheduler.schedule(again)

        run = await run_by_key(client, deployment_id, again.idempotency_key)
        assert run["id"] != crashed["id"]
        assert run["state"]["type"] == "SCHEDULED"
        assert (await run_by_key(client, deployment_id, first.idempotency_key))["state"][
            "type"
        ] == "CRASHED"

    async def test_a_run_survives_redeployment(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        item = followup_run()
        await PrefectRestScheduler(client).schedule(item)

        # serve upserts its deployment on every start: same id, only auto-scheduled runs go
        assert await create_deployment(client, "tg-collect") == deployment_id
        assert (await run_by_key(client, deployment_id, item.idempotency_key))["state_type"] == (
            "SCHEDULED"
        )


class TestDeploymentChoice:
    """One deployment per session (``phone=``): the session's own, else ``tg-collect``."""

    async def test_the_sessions_own_deployment_takes_its_runs(
        self, client: httpx.AsyncClient, deployment_id: str
    ) -> None:
        phone_a, phone_b = "+15550111", "+15550122"
        a = await create_deployment(client, "tg-collect-a", {"phone": phone_a})
        b = await create_deployment(client, "tg-collect-b", {"phone": "+1 555 0122"})
        scheduler = PrefectRestScheduler(client)
        run_a, run_b = followup_run(1, phone_a), followup_run(2, phone_b)
        unknown = followup_run(3, "+15550199")

        for item in (run_a, run_b, unknown):
            await scheduler.schedule(item)

        assert (await run_by_key(client, a, run_a.idempotency_key))["parameters"]["phone"] == (
            phone_a
        )
        # the same digits however the operator spelled the deployment's parameter
        assert (await run_by_key(client, b, run_b.idempotency_key))["deployment_id"] == b
        # no deployment of its own: the one named tg-collect
        assert (await run_by_key(client, deployment_id, unknown.idempotency_key))[
            "deployment_id"
        ] == deployment_id


class TestErrors:
    """Server down, no deployment or a deleted one: a SchedulerError with a clear message."""

    async def test_server_down_names_the_url(self) -> None:
        url = f"http://127.0.0.1:{free_port()}/api"
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            with pytest.raises(SchedulerError, match="cannot reach the Prefect API") as e:
                await PrefectRestScheduler(client).schedule(followup_run())
        assert url in str(e.value)
        assert "\n" not in str(e.value)

    async def test_missing_deployment_names_it_not_the_phone(
        self, client: httpx.AsyncClient
    ) -> None:
        scheduler = PrefectRestScheduler(client, deployment_name="nope")

        with pytest.raises(SchedulerError, match="no deployment 'nope' of flow 'tg-collect'") as e:
            await scheduler.schedule(followup_run(phone="+15550987"))
        assert str(client.base_url).rstrip("/") in str(e.value)
        assert "tgstat.flows.serve" in str(e.value)
        assert "15550987" not in str(e.value)
        assert "*******87" in str(e.value)

    async def test_a_deleted_deployment_is_looked_up_again(self, client: httpx.AsyncClient) -> None:
        name = "tg-collect-redeployed"
        phone = "+15550333"
        old_id = await create_deployment(client, name, {"phone": phone})
        scheduler = PrefectRestScheduler(client, deployment_name=name)
        await scheduler.schedule(followup_run(phone=phone))
        (await client.delete(f"/deployments/{old_id}")).raise_for_status()
        new_id = await create_deployment(client, name, {"phone": phone})
        item = followup_run(phone=phone)

        # the cached id answers 404: looked up again at once, the run goes to the new one
        await scheduler.schedule(item)

        assert (await run_by_key(client, new_id, item.idempotency_key))["deployment_id"] == new_id
        (await client.delete(f"/deployments/{new_id}")).raise_for_status()
        with pytest.raises(SchedulerError, match="no deployment 'tg-collect-redeployed'"):
            await scheduler.schedule(followup_run(phone=phone))

    async def test_http_errors_carry_status_and_detail(self, prefect_api_url: str) -> None:
        # a base URL without /api: every path answers 404
        async with httpx.AsyncClient(
            base_url=prefect_api_url.removesuffix("/api"), timeout=10
        ) as client:
            with pytest.raises(SchedulerError, match=r"/deployments/filter answered 404"):
                await PrefectRestScheduler(client).schedule(followup_run())


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
