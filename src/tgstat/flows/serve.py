"""``python -m tgstat.flows.serve``: serve the ``tg-collect`` deployment every 300 s.

Needs PREFECT_API_URL: without it Prefect silently serves against a throwaway server whose
scheduler never fires. ``tgstat serve`` (``just serve``) starts a local server first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import httpx

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError


class PrefectNotConfiguredError(TgstatError):
    """Raised when serving without PREFECT_API_URL."""


class PrefectUnreachableError(TgstatError):
    """Raised when the Prefect server of PREFECT_API_URL does not answer ``/health``."""


def require_prefect(settings: Settings) -> str:
    """PREFECT_API_URL, checked to answer ``GET /health``; raises PrefectNotConfiguredError
    or PrefectUnreachableError (before anything is registered)."""
    url = settings.prefect_api_url
    if url is None:
        raise PrefectNotConfiguredError(
            "PREFECT_API_URL is not set (e.g. http://127.0.0.1:4200/api); `tgstat serve`"
            " starts a local Prefect server and sets it"
        )
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        raise PrefectUnreachableError(
            f"cannot reach the Prefect server at PREFECT_API_URL={url}: {e}"
        ) from e
    return url


def serve(settings: Settings) -> None:
    """Serve ``tg-collect`` every 300 s on the Prefect server of PREFECT_API_URL."""
    require_prefect(settings)
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


def main(argv: Sequence[str] | None = None) -> int:
    from tgstat.cli.errors import Parser, run_command

    parser = Parser(
        prog="python -m tgstat.flows.serve",
        description="Serve the tg-collect deployment every 300 s on the Prefect server of"
        " PREFECT_API_URL.",
    )
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
