"""``python -m tgstat.flows.serve``: serve the ``tg-collect`` deployment every 300 s.

Needs PREFECT_API_URL: without it Prefect silently serves against a throwaway server whose
scheduler never fires. ``tgstat serve`` (``just serve``) starts a local server first.
"""

from __future__ import annotations

import argparse
import sys

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError


class PrefectNotConfiguredError(TgstatError):
    """Raised when serving without PREFECT_API_URL."""


def serve(settings: Settings) -> None:
    if settings.prefect_api_url is None:
        raise PrefectNotConfiguredError(
            "PREFECT_API_URL is not set (e.g. http://127.0.0.1:4200/api); `tgstat serve`"
            " starts a local Prefect server and sets it"
        )
    from tgstat.flows.tg_collect_flow import DEPLOYMENT_NAME, INTERVAL, tg_collect

    tg_collect.serve(
        name=DEPLOYMENT_NAME,
        interval=INTERVAL,
        tags=["tgstat"],
        description="Telegram channel statistics: one collection cycle of every channel.",
    )


def run(_args: argparse.Namespace, settings: Settings) -> int:
    serve(settings)
    return 0


def main() -> int:
    from tgstat.cli.errors import run_command

    return run_command(run, argparse.Namespace())


if __name__ == "__main__":
    sys.exit(main())
