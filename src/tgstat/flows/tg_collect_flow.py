"""The ``tg-collect`` Prefect flow: one collection cycle of the chosen channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import flow_run as current_run
from prefect.states import Completed

from tgstat.app.bootstrap import bootstrap
from tgstat.app.collection import raise_for_failures, run_collection, run_followups, summary
from tgstat.app.database import database_url
from tgstat.app.settings import Settings

FLOW_NAME = DEPLOYMENT_NAME = "tg-collect"
INTERVAL = timedelta(seconds=300)
FOLLOWUP_TAG = "followup"


def log_unsuccessful(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure / on_crashed / on_cancellation: channel, error and session status."""
    params = flow_run.parameters or {}
    flow_run_logger(flow_run, flow).error(
        "tg-collect run %s ended %s (channel=%s, phone=%s): %s",
        flow_run.name,
        state.type.value,
        params.get("channel") or "all",
        "***" if params.get("phone") else "any",  # never the full phone
        state.message,
    )


def stale_interval_run(now: datetime) -> bool:
    """An interval run scheduled more than one interval ago (Prefect starts every missed
    one after downtime): only the newest is worth running. Follow-ups always run."""
    scheduled = current_run.scheduled_start_time
    if scheduled is None or FOLLOWUP_TAG in (current_run.tags or []):
        return False
    return bool(now - scheduled > INTERVAL)


@flow(
    name=FLOW_NAME,
    on_failure=[log_unsuccessful],
    on_crashed=[log_unsuccessful],
    on_cancellation=[log_unsuccessful],
)
async def tg_collect(
    channel: str | None = None,
    phone: str | None = None,
    followup_at: str | None = None,
    followup_channels: list[str] | None = None,
) -> Any:
    """Collect ``channel`` (title or id), the channels of ``phone``'s session, or all.

    With ``followup_at`` (an ISO minute) the run is a follow-up run: it measures the
    follow-ups of ``phone``'s session due by the end of that minute (or earlier) and not
    measured yet, reading only their posts and comments. ``followup_channels`` names the
    channels known when the run was planned, for the UI; the run reads its work from the
    database, so channels added to the same minute later are measured too.
    """
    del followup_channels  # informative only
    if stale_interval_run(datetime.now(UTC)):
        return Completed(name="Skipped", message="a newer interval run supersedes this one")
    settings = Settings.from_env()
    with database_url(settings) as url:
        async with bootstrap(settings, url) as app:
            if followup_at is None:
                outcomes = await run_collection(settings, app, channel, phone)
            else:
                minute = datetime.fromisoformat(followup_at)
                outcomes = await run_followups(settings, app, phone, minute)
    if not outcomes:
        return Completed(message="no follow-up left to measure")
    get_run_logger().info("%s", summary(outcomes))
    raise_for_failures(outcomes)
    if outcomes and all(o.status == "skipped" for o in outcomes):
        return Completed(name="Skipped", message=summary(outcomes))
    return Completed(message=summary(outcomes))
