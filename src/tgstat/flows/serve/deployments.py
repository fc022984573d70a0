"""What ``tgstat serve`` serves: ``tg-collect`` every 300 s, ``lake-etl`` daily."""

from __future__ import annotations

from typing import Any

import attrs
from prefect import Flow
from prefect.schedules import Cron

from tgstat.app.settings import Settings
from tgstat.flows import lake_etl_flow, tg_collect_flow


@attrs.frozen
class Served:
    """A flow and how it is deployed (the keyword arguments of ``Runner.aadd_flow``)."""

    flow: Flow[Any, Any]
    options: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.options["name"])


def deployments(settings: Settings) -> list[Served]:
    """Both flows, as ``tgstat.flows.tg_collect_flow`` and ``lake_etl_flow`` define them."""
    return [
        Served(
            tg_collect_flow.tg_collect,
            {
                "name": tg_collect_flow.DEPLOYMENT_NAME,
                "interval": tg_collect_flow.INTERVAL,
                "tags": ["tgstat"],
                "description": "Telegram channel statistics: one collection cycle of every"
                " channel.",
            },
        ),
        Served(
            lake_etl_flow.lake_etl,
            {
                "name": lake_etl_flow.DEPLOYMENT_NAME,
                "schedules": [Cron(lake_etl_flow.CRON, timezone=settings.lake_tz)],
                "tags": ["tgstat", "lake"],
                "description": "Message lake: yesterday's raw updates into one Parquet file.",
            },
        ),
    ]
