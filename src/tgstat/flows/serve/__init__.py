"""``python -m tgstat.flows.serve``: serve ``tg-collect`` (every 300 s) and ``lake-etl``
(daily) in one runner on the Prefect server of PREFECT_API_URL.

Needs PREFECT_API_URL: without it Prefect silently serves against a throwaway server whose
scheduler never fires. ``tgstat serve`` (``just serve``) starts a local server first.
SIGTERM, SIGINT and SIGHUP stop the runner: runs in flight are cancelled through the API.

This module imports no Prefect (``tgstat serve`` checks the server with it); the runner is
in ``tgstat.flows.serve.runner`` and the deployments in ``tgstat.flows.serve.deployments``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

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


Deployments = Callable[[Settings], Sequence[Any]]
"""Builds the RunnerDeployments to serve from the settings."""


def main(deployments: Deployments, argv: Sequence[str] | None = None) -> int:
    """The entry point: a TgstatError is one line and exit 2; a stop signal exits 0."""
    from tgstat.cli.errors import Parser, run_command

    parser = Parser(
        prog="python -m tgstat.flows.serve",
        description="Serve tg-collect every 300 s and lake-etl daily in one runner on the"
        " Prefect server of PREFECT_API_URL, until SIGTERM, SIGINT or SIGHUP.",
    )

    def run(_args: argparse.Namespace, settings: Settings) -> int:
        require_prefect(settings)
        from tgstat.flows.serve.runner import serve_until_stopped

        serve_until_stopped(deployments(settings))
        return 0

    return run_command(run, parser.parse_args(argv))
