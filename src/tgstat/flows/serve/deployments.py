"""What ``tgstat serve`` serves: ``tg-collect`` every 300 s, ``lake-etl`` daily."""

from __future__ import annotations

from datetime import timedelta

from tgstat.app.settings import Settings
from tgstat.flows import lake_etl_flow, tg_collect_flow
from tgstat.flows.serve.runner import Served


def deployments(settings: Settings, interval: timedelta = tg_collect_flow.INTERVAL) -> list[Served]:
    """Both flows, as ``tgstat.flows.tg_collect_flow`` and ``lake_etl_flow`` define them;
    ``tg-collect`` every ``interval``."""
    return [
        Served(
            tg_collect_flow.tg_collect,
            {
                "name": tg_collect_flow.DEPLOYMENT_NAME,
                "interval": interval,
                "tags": ["tgstat"],
                "description": "Telegram channel statistics: one collection cycle of every"
                " channel.",
            },
        ),
        Served(lake_etl_flow.lake_etl, lake_etl_flow.deployment_options(settings)),
    ]
