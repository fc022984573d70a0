"""The Prefect server of PREFECT_API_URL, and the name of a work pool, checked before
anything is served or deployed (a module of its own, importing no Prefect: the flows and the
CLI's argument parser import it without the serving machinery)."""

from __future__ import annotations

import httpx

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError


class PrefectNotConfiguredError(TgstatError):
    """Raised when serving without PREFECT_API_URL."""


class PrefectUnreachableError(TgstatError):
    """Raised when the Prefect server of PREFECT_API_URL does not answer ``/health``."""


class InvalidPoolNameError(TgstatError):
    """Raised for a work pool name Prefect would refuse or mishandle."""


BANNED_CHARACTERS = ("/", "%", "&", ">", "<")
"""Prefect's own (``prefect.types.names.BANNED_CHARACTERS``): refused in any name."""
URL_CHARACTERS = ("?", "#")
"""Accepted by Prefect, but its client puts the name in a URL path unquoted: the worker would
read another pool (``a?b`` reads ``a``)."""
MAX_POOL_NAME = 100


def check_pool_name(name: str) -> str:
    """``name`` when it makes a usable work pool name, else InvalidPoolNameError: Prefect's
    rules (not empty, nor only quotes and spaces; none of ``/ % & > <``; not starting with
    ``prefect``, reserved), plus no ``?`` or ``#``, no control character, at most 100."""
    shown = repr(name) if len(name) <= MAX_POOL_NAME else f"{name[:20]!r}..."
    if not name.strip("' \""):
        reason = "is empty (or only quotes and spaces)"
    elif len(name) > MAX_POOL_NAME:
        reason = f"is {len(name)} characters long (at most {MAX_POOL_NAME})"
    elif found := [c for c in (*BANNED_CHARACTERS, *URL_CHARACTERS) if c in name]:
        reason = f"contains {' '.join(found)} (none of / % & > < ? # is allowed)"
    elif not name.isprintable():
        reason = "contains a control character"
    elif name.lower().startswith("prefect"):
        reason = "starts with 'prefect' (reserved by Prefect)"
    else:
        return name
    raise InvalidPoolNameError(f"work pool name {shown} {reason}")


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
    except httpx.InvalidURL as e:  # not an HTTPError: ``http://[::1`` and the like
        raise PrefectUnreachableError(f"PREFECT_API_URL={url} is not a valid URL: {e}") from e
    except httpx.HTTPError as e:
        raise PrefectUnreachableError(
            f"cannot reach the Prefect server at PREFECT_API_URL={url}: {e}"
        ) from e
    return url
