"""The Prefect server of PREFECT_API_URL, checked before anything is served (a module of
its own: the flows import it without importing the serving machinery that imports them)."""

from __future__ import annotations

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
