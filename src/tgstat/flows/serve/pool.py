"""Scale-out: tgstat's deployments on a Prefect work pool, one ``tg-collect`` per session.

``tgstat deploy --pool NAME`` creates the process work pool when missing and, for every
enabled session that has channels, a deployment ``tg-collect-s<pk>`` of flow ``tg-collect``
(default parameter ``phone=`` the session's phone, every ``interval``) on a work queue of
the same name, so that the runs of one Telegram account go to the worker that listens on its
queue (one machine, one IP per account). Runs of one channel never collect at once: the
per-channel lock in PostgreSQL skips the later one. Also ``tg-collect`` itself, unscheduled,
on queue ``tg-collect`` (follow-ups of a session without a deployment of its own land
there), and ``lake-etl`` on queue ``lake-etl``. Deployments of sessions no longer enabled
are deleted; deployments on another pool are moved to this one (and reported).
Idempotent: run it again after adding a session or a channel. Nothing is registered unless
the pool name is valid, some enabled session has channels, and the pool is missing (then
made) or of type process.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import attrs
import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import WorkPool, WorkPoolStatus
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from tgstat.app.bootstrap import bootstrap
from tgstat.app.database import database_url
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError
from tgstat.flows import lake_etl_flow, tg_collect_flow
from tgstat.flows.prefect_api import check_pool_name
from tgstat.flows.serve.crash_detection import HEARTBEAT_ENV, ensure_crash_detection

PREFIX = f"{tg_collect_flow.DEPLOYMENT_NAME}-s"
POOL_TYPE = "process"


class NothingToDeployError(TgstatError):
    """Raised when no enabled session has a channel: a worker would collect nothing."""


class WorkPoolError(TgstatError):
    """Raised when the work pool is of another type, or the server refuses it."""


@attrs.frozen
class Deployed:
    """What ``deploy`` did: the work queues (one per deployment), whether the pool is
    paused, and the deployments taken from elsewhere: name -> the pool they were on (None:
    served by ``tgstat serve``, on no pool)."""

    queues: list[str]
    paused: bool
    moved: dict[str, str | None]


@attrs.frozen
class SessionDeployment:
    """The deployment of one session: its name (also its work queue) and phone."""

    session_pk: int
    phone: str

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.session_pk}"

    @property
    def masked_phone(self) -> str:
        return f"***{self.phone[-2:]}"


def deploy(settings: Settings, pool: str, interval: timedelta, heartbeat: int) -> Deployed:
    """Deploy to ``pool`` (see the module). Everything is checked before anything is
    registered: the pool name, a session with channels (else NothingToDeployError), the
    pool (created, or an existing one of type process, else WorkPoolError); then the
    crash-detection automation and the deployments."""
    check_pool_name(pool)
    return asyncio.run(_deploy(settings, pool, interval, heartbeat))


async def sessions_with_channels(settings: Settings) -> list[SessionDeployment]:
    """The enabled sessions that have at least one configured channel, by pk."""
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app, app.repository.session() as s:
            used = {c.session_pk for c in await s.list_channels()}
            sessions = await s.enabled_sessions()
    return sorted(
        (SessionDeployment(x.pk, x.phone_number) for x in sessions if x.pk in used),
        key=lambda d: d.session_pk,
    )


async def _deploy(settings: Settings, pool: str, interval: timedelta, heartbeat: int) -> Deployed:
    sessions = await sessions_with_channels(settings)
    if not sessions:
        raise NothingToDeployError(
            "no enabled session has a channel: nothing to deploy (a worker would collect"
            " nothing); add a session (`tgstat add-bot-session`) and a channel (`tgstat"
            " add-channel`), then run `tgstat deploy` again"
        )
    wanted = await _deployments(settings, sessions, pool, interval, heartbeat)
    found = await _ensure_pool(pool)  # checked (or made) before anything else is registered
    await ensure_crash_detection({tg_collect_flow.FLOW_NAME, lake_etl_flow.FLOW_NAME}, heartbeat)
    existing = await _existing()
    moved: dict[str, str | None] = {}
    for deployment in wanted:
        before = existing.get((deployment.flow_name or "", deployment.name))
        if before is not None and before.work_pool_name != pool:
            moved[deployment.name] = before.work_pool_name
        # applying again would delete and re-create the scheduled runs, failing a run a
        # worker has just picked up: only what changed is applied
        if before is None or _fingerprint(deployment) != _fingerprint(before):
            await deployment.aapply()
    await _delete_others({s.name for s in sessions})
    paused = found.is_paused or found.status == WorkPoolStatus.PAUSED
    return Deployed([d.name for d in wanted], paused, moved)


async def _deployments(
    settings: Settings,
    sessions: Sequence[SessionDeployment],
    pool: str,
    interval: timedelta,
    heartbeat: int,
) -> list[RunnerDeployment]:
    """The deployments to apply (built only: nothing is registered yet)."""
    options: dict[str, Any] = {
        "work_pool_name": pool,
        "job_variables": {"env": {HEARTBEAT_ENV: str(heartbeat)}},
        "entrypoint_type": EntrypointType.MODULE_PATH,  # the installed package, not a path
    }
    collect = tg_collect_flow.tg_collect
    wanted: list[RunnerDeployment] = []
    for session in sessions:
        deployment = await collect.ato_deployment(
            session.name,
            interval=interval,
            parameters={"phone": session.phone},
            work_queue_name=session.name,
            tags=["tgstat", session.name],
            description=f"tg-collect of session {session.session_pk} ({session.masked_phone})",
            **options,
        )
        wanted.append(deployment)
    fallback = await collect.ato_deployment(
        tg_collect_flow.DEPLOYMENT_NAME,
        work_queue_name=tg_collect_flow.DEPLOYMENT_NAME,
        tags=["tgstat"],
        description="tg-collect of every channel, unscheduled: follow-ups of sessions"
        " without a deployment of their own",
        **options,
    )
    lake_options = lake_etl_flow.deployment_options(settings)
    lake = await lake_etl_flow.lake_etl.ato_deployment(
        lake_options.pop("name"),
        work_queue_name=lake_etl_flow.DEPLOYMENT_NAME,
        **lake_options,
        **options,
    )
    return [*wanted, fallback, lake]


async def _existing() -> dict[tuple[str, str], Any]:
    """(flow name, deployment name) -> deployment, of tgstat's deployments on the server."""
    names = [tg_collect_flow.FLOW_NAME, lake_etl_flow.FLOW_NAME]
    async with get_client() as client:
        flows = {
            f.id: f.name
            for f in await client.read_flows(
                flow_filter=FlowFilter(name=FlowFilterName(any_=names))
            )
        }
        found = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=names))
        )
    return {(flows[d.flow_id], d.name): d for d in found if d.flow_id in flows}


def _fingerprint(d: Any) -> object:
    """What ``tgstat deploy`` sets on a deployment (a RunnerDeployment or one read back)."""
    schedules = [
        s.schedule.model_dump(mode="json", exclude={"anchor_date"}) for s in d.schedules or []
    ]
    return (
        d.work_pool_name,
        d.work_queue_name,
        d.parameters,
        d.job_variables,
        d.entrypoint,
        d.description,
        sorted(d.tags or []),
        schedules,
    )


async def _ensure_pool(pool: str) -> WorkPool:
    """The work pool ``pool``, made (type process) when missing; WorkPoolError when it is
    of another type (its workers would not run tgstat's flows) or the server refuses it."""
    template = ProcessWorker.get_default_base_job_template()
    wanted = WorkPoolCreate(name=pool, type=POOL_TYPE, base_job_template=template)
    try:
        async with get_client() as client:
            try:
                found = await client.read_work_pool(pool)
            except ObjectNotFound:
                try:
                    found = await client.create_work_pool(wanted)
                except ObjectAlreadyExists:  # made meanwhile (another deploy)
                    found = await client.read_work_pool(pool)
    except httpx.HTTPStatusError as e:
        detail = (str(e).splitlines() or [type(e).__name__])[0]
        raise WorkPoolError(f"the Prefect server refused work pool {pool!r}: {detail}") from e
    if found.type != POOL_TYPE:
        raise WorkPoolError(
            f"work pool {pool!r} exists with type {found.type!r}, not {POOL_TYPE!r}: tgstat"
            " deploys only to a process work pool; choose another --pool name"
        )
    return found


async def _delete_others(keep: set[str]) -> None:
    """Delete the per-session deployments of sessions that are no longer deployed."""
    flows = FlowFilter(name=FlowFilterName(any_=[tg_collect_flow.FLOW_NAME]))
    async with get_client() as client:
        for found in await client.read_deployments(flow_filter=flows):
            if found.name.startswith(PREFIX) and found.name not in keep:
                await client.delete_deployment(found.id)


def worker_commands(pool: str, queues: Sequence[str]) -> list[str]:
    """One ``prefect worker start`` per session queue, every value shell-quoted; the first
    also takes the shared queues (``tg-collect`` follow-ups, ``lake-etl``)."""
    sessions = [q for q in queues if q.startswith(PREFIX)]
    shared = [q for q in queues if not q.startswith(PREFIX)]
    groups = [[q, *(shared if i == 0 else [])] for i, q in enumerate(sessions)] or [shared]
    return [
        shlex.join(["prefect", "worker", "start", "--pool", pool, "--type", POOL_TYPE])
        + "".join(f" --work-queue {shlex.quote(q)}" for q in group)
        for group in groups
    ]
