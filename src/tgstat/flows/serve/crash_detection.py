"""Runs whose process died are marked Crashed: Prefect's heartbeats and one automation.

A flow run sends a ``prefect.flow-run.heartbeat`` event every ``heartbeat_s`` seconds
(PREFECT_FLOWS_HEARTBEAT_FREQUENCY; the runner and the workers pass it to every run). When
the serve process and the run's process die together (the OOM killer, a container stop),
nothing else would ever end the run: it would stay Running for good. The automation kept
here is Prefect's "zombie flow run" recipe on the open-source server: after a heartbeat,
if neither another heartbeat nor any state change of that run arrives within
``window(heartbeat_s)``, the run is set to Crashed. It watches the runs of tgstat's flows
only (``tg-collect``, ``lake-etl``), leaving other flows on a shared server alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import timedelta

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from tgstat.domain.errors import TgstatError

AUTOMATION_NAME = "tgstat: crash runs that stopped sending heartbeats"
HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
DEFAULT_HEARTBEAT_S = 60
MIN_HEARTBEAT_S = 30  # Prefect's own floor
CRASHED_MESSAGE = "no heartbeat from the run's process: it died (killed with its runner?)"

log = logging.getLogger(__name__)


def heartbeat_s() -> int:
    """Seconds between heartbeats: PREFECT_FLOWS_HEARTBEAT_FREQUENCY when set, else 60
    (Prefect's default of 180 would leave a dead run Running for over 6 minutes)."""
    raw = os.environ.get(HEARTBEAT_ENV) or str(DEFAULT_HEARTBEAT_S)
    return max(int(raw), MIN_HEARTBEAT_S)


def window(heartbeat: int) -> timedelta:
    """How long after a heartbeat a run may stay silent: two missed heartbeats and slack."""
    return timedelta(seconds=2 * heartbeat + 15)


def crash_detection(flow_names: Iterable[str], heartbeat: int) -> AutomationCore:
    """The automation: a run of ``flow_names`` silent for ``window(heartbeat)`` after a
    heartbeat becomes Crashed. Any event of the run counts as a sign of life, including
    state changes whose names Prefect's recipe does not list (a ``Skipped`` completion)."""
    return AutomationCore(
        name=AUTOMATION_NAME,
        description="tgstat: a run that sent a heartbeat and then fell silent (its process"
        " died) is marked Crashed.",
        enabled=True,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": sorted(flow_names)}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=window(heartbeat),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED, name="Crashed", message=CRASHED_MESSAGE, force=False
            )
        ],
    )


class CrashDetectionError(TgstatError):
    """Raised when the Prefect server refuses or fails the automation's creation."""


async def ensure_crash_detection(flow_names: Iterable[str], heartbeat: int) -> None:
    """Create the automation on the server of PREFECT_API_URL, or bring the one there up
    to date; idempotent (several serve processes starting at once leave one). Raises
    CrashDetectionError when the server fails it."""
    try:
        await _ensure(crash_detection(flow_names, heartbeat))
    except httpx.HTTPError as e:
        raise CrashDetectionError(
            f"cannot keep the crash-detection automation on the Prefect server: {e}"
        ) from e
    seconds = int(window(heartbeat).total_seconds())
    log.info("crash detection: a run silent %s s after a heartbeat becomes Crashed", seconds)


async def _ensure(wanted: AutomationCore) -> None:
    async with get_client() as client:
        found = await client.read_automations_by_name(AUTOMATION_NAME)
        if not found:
            await client.create_automation(wanted)
            found = await client.read_automations_by_name(AUTOMATION_NAME)
        keep, *extra = sorted(found, key=lambda a: str(a.id))
        for duplicate in extra:  # a concurrent start created one too
            await client.delete_automation(duplicate.id)
        if _spec(keep) != _spec(wanted):
            await client.update_automation(keep.id, wanted)


def _spec(automation: AutomationCore) -> object:
    return automation.model_dump(
        mode="json", include={"trigger", "actions", "enabled"}, exclude={"trigger": {"id"}}
    )
