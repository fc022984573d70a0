"""The ``lake-etl`` Prefect flow: yesterday's raw updates into Parquet, daily at 00:15.

``python -m tgstat.flows.lake_etl_flow`` (or ``tgstat lake serve-etl``) serves it on that
cron in TGSTAT_LAKE_TZ with ``tgstat.flows.serve.runner``, as ``tgstat serve`` does; like
``tgstat.flows.serve`` it refuses to start without a reachable PREFECT_API_URL.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run as current_run
from prefect.schedules import Cron

from tgstat.app.lake import describe, etl_day, lake_store
from tgstat.app.settings import Settings
from tgstat.flows.prefect_api import require_prefect
from tgstat.services.lake_etl import run_etl

FLOW_NAME = DEPLOYMENT_NAME = "lake-etl"
CRON = "15 0 * * *"


def deployment_options(settings: Settings) -> dict[str, Any]:
    """How ``lake-etl`` is deployed wherever it is served or deployed: the keyword arguments
    of ``Runner.aadd_flow`` (``name`` included), daily at CRON in TGSTAT_LAKE_TZ."""
    return {
        "name": DEPLOYMENT_NAME,
        "schedules": [Cron(CRON, timezone=settings.lake_tz)],
        "tags": ["tgstat", "lake"],
        "description": "Message lake: yesterday's raw updates into telegram + telegram_event.",
    }


@flow(name=FLOW_NAME)
def lake_etl(day: str | None = None) -> dict[str, Any]:
    """Flatten ``day`` (YYYY-MM-DD; default: the day before the run was scheduled, in the
    lake time zone, so a late catch-up run still processes its own day). Quarantined files
    are logged as a warning; the run still completes."""
    settings = Settings.from_env()
    scheduled = current_run.scheduled_start_time
    target = etl_day(day, settings, scheduled if scheduled is not None else datetime.now(UTC))
    report = run_etl(lake_store(settings), target)
    logger = get_run_logger()
    logger.info("%s", describe(report))
    if report.quarantined:
        logger.warning("%d raw files quarantined on %s", len(report.quarantined), target)
    return report.to_json()


def serve(settings: Settings) -> None:
    """Serve ``lake-etl`` daily at 00:15 in the lake time zone until SIGTERM, SIGINT or
    SIGHUP (stopped within seconds, as ``tgstat serve``). Raises PrefectNotConfiguredError
    without PREFECT_API_URL and PrefectUnreachableError when nothing answers there."""
    require_prefect(settings)
    from tgstat.flows.serve.runner import Served, serve_until_stopped

    serve_until_stopped([Served(lake_etl, deployment_options(settings))])


def run(_args: argparse.Namespace, settings: Settings) -> int:
    serve(settings)
    return 0


def serve_main() -> int:
    """``python -m tgstat.flows.lake_etl_flow``: a TgstatError is one line and exit 2."""
    from tgstat.cli.errors import run_command

    return run_command(run, argparse.Namespace())


if __name__ == "__main__":
    sys.exit(serve_main())
