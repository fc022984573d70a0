"""The checks of ``tgstat doctor`` outside the database: Prefect, the lake, the secret key."""

from __future__ import annotations

import re
import stat
import uuid
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import fsspec
import httpx

from tgstat.adapters.fsspec_lake import describe, store_errors
from tgstat.app.doctor.model import Check, Verdict
from tgstat.app.prefect_server import served_api_url
from tgstat.app.secrets import KEY_FILE, MissingSecretKeyError, sealer
from tgstat.app.settings import Settings
from tgstat.ports.secrets import SecretKeyError

COLLECT, LAKE_ETL = "tg-collect", "lake-etl"
ETL_LATE_AFTER = timedelta(hours=1)
"""Yesterday counts as not flattened from 01:00 on (the daily job runs at 00:15)."""
SHOWN_DAYS = 3


def prefect_checks(settings: Settings) -> list[Check]:
    """PREFECT_API_URL (or the server of a running ``tgstat serve``) answers, and serves
    ``tg-collect`` and ``lake-etl`` (deployments whose runner polls: status READY); when
    ``tgstat deploy`` made per-session deployments, a second line: a worker polls each."""
    url = settings.prefect_api_url or served_api_url(settings.home)
    if url is None:
        return [
            Check(
                "prefect",
                Verdict.WARN,
                "PREFECT_API_URL is unset and no `tgstat serve` runs: nothing collects on a"
                " schedule and follow-ups stay pending",
            )
        ]
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=5) as http:
            http.get("/health").raise_for_status()
            status = {
                d["name"]: d.get("status") for d in _deployments(http, any_=[COLLECT, LAKE_ETL])
            }
            sessions = [
                d
                for d in _deployments(http, like_=SESSION_PREFIX)
                if SESSION_DEPLOYMENT.fullmatch(d["name"])
            ]
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as e:
        # httpx's status errors add a second line ("For more information check: ...")
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        return [
            Check("prefect", Verdict.FAIL, f"cannot reach the Prefect server at {url}: {reason}")
        ]
    return [_served(url, status), *([_workers(sessions)] if sessions else [])]


SESSION_PREFIX = f"{COLLECT}-s"
SESSION_DEPLOYMENT = re.compile(rf"{re.escape(SESSION_PREFIX)}[0-9]+")


def _deployments(http: httpx.Client, **name: object) -> list[dict[str, Any]]:
    answer = http.post("/deployments/filter", json={"deployments": {"name": name}, "limit": 200})
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def _served(url: str, status: dict[str, Any]) -> Check:
    if status.get(COLLECT) is None:
        return Check("prefect", Verdict.FAIL, f"{url}: {COLLECT} is not deployed: `tgstat serve`")
    idle = [name for name, s in sorted(status.items()) if s != "READY"]
    if COLLECT in idle:
        return Check("prefect", Verdict.FAIL, f"{url}: {COLLECT} is deployed but nothing serves it")
    missing = [] if LAKE_ETL in status else [f"{LAKE_ETL} not deployed"]
    notes = missing + [f"{name} not served" for name in idle]
    if notes:
        return Check("prefect", Verdict.WARN, f"{url}: {COLLECT} served; {', '.join(notes)}")
    return Check("prefect", Verdict.OK, f"{url}: {COLLECT} and {LAKE_ETL} served")


def _workers(sessions: list[dict[str, Any]]) -> Check:
    """The per-session deployments of ``tgstat deploy``: READY once a worker polls the
    deployment's work queue, NOT_READY when none did for a minute."""
    ordered = sorted(sessions, key=lambda d: int(d["name"].removeprefix(SESSION_PREFIX)))
    idle = [d for d in ordered if d.get("status") != "READY"]
    if idle:
        shown = ", ".join(
            f"{d['name']} (pool {d.get('work_pool_name')!r}, queue {d.get('work_queue_name')})"
            for d in idle
        )
        return Check(
            "workers",
            Verdict.FAIL,
            f"no worker polls {shown}: start the `prefect worker start` that `tgstat deploy`"
            " prints",
        )
    names = ", ".join(d["name"] for d in ordered)
    return Check("workers", Verdict.OK, f"a worker polls the queue of each of {names}")


def lake_check(settings: Settings, now: datetime) -> Check:
    """A local lake root takes a file (written and removed: the only write of doctor); an
    object store root is only read (its bucket listed, never created); and every finished
    raw day has its Parquet."""
    root = settings.lake_root
    try:
        fs, path = fsspec.core.url_to_fs(root)
        base = path.rstrip("/")
        state = _writable(fs, base) if _is_local(fs) else _readable(fs, base)
        raw = _days(fs, f"{base}/raw/telegram")
        flat = _days(fs, f"{base}/enriched/telegram")
    except ImportError as e:
        return Check("lake", Verdict.FAIL, f"{root}: {e} (pip install 'tgstat[s3]')")
    except LakeUnreachableError as e:
        return Check("lake", Verdict.FAIL, f"{root}: {e}")
    except store_errors() as e:
        return Check("lake", Verdict.FAIL, f"{root} {_not_usable(root)}: {describe(e)}")
    except ValueError as e:
        return Check("lake", Verdict.FAIL, f"{root} {_not_usable(root)}: {describe(e)}")
    local = now.astimezone(zoneinfo.ZoneInfo(settings.lake_tz))
    finished = (local - ETL_LATE_AFTER).date() - timedelta(days=1)
    behind = sorted(day for day in raw - flat if day <= finished.isoformat())
    if behind:
        shown = ", ".join(behind[:SHOWN_DAYS]) + (", ..." if len(behind) > SHOWN_DAYS else "")
        return Check(
            "lake",
            Verdict.WARN,
            f"{root}: {state}; {len(behind)} raw days not flattened ({shown}):"
            " `tgstat lake etl --date YYYY-MM-DD`",
        )
    return Check("lake", Verdict.OK, f"{root}: {state}, {len(raw)} raw days, all flattened")


class LakeUnreachableError(Exception):
    """Raised (and reported as FAIL) when an object store's bucket is not there."""


def _not_usable(root: str) -> str:
    local = "://" not in root or root.startswith("file://")
    return "is not writable" if local else "cannot be read"


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def _writable(fs: fsspec.AbstractFileSystem, base: str) -> str:
    fs.makedirs(base, exist_ok=True)
    probe = f"{base}/.tgstat-doctor-{uuid.uuid4().hex}"
    fs.pipe_file(probe, b"")
    fs.rm(probe)
    return "writable"


def _readable(fs: fsspec.AbstractFileSystem, base: str) -> str:
    bucket = base.split("/", 1)[0]
    try:
        fs.info(bucket)  # not exists(): it answers False for missing credentials too
    except FileNotFoundError:
        raise LakeUnreachableError(
            f"bucket {bucket!r} does not exist or these credentials cannot see it"
            " (doctor only reads: it creates no bucket)"
        ) from None
    return "readable (not written: doctor only reads an object store)"


def _days(fs: fsspec.AbstractFileSystem, directory: str) -> set[str]:
    if not fs.exists(directory):
        return set()
    names = (str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(directory, detail=False))
    return {n.removeprefix("context_date=") for n in names if n.startswith("context_date=")}


def secret_key_check(settings: Settings, sealed: Sequence[tuple[bytes, bytes | None]]) -> Check:
    """The key is there (TGSTAT_SECRET_KEY, or the key file: never created here) and opens
    every stored (api_hash, session file) pair of ``sealed``."""
    key_file = settings.home / KEY_FILE
    try:
        seal = sealer(settings)  # may_create=False: a missing file is an error, not a new key
        for api_hash, session in sealed:
            seal.open(api_hash)
            if session is not None:
                seal.open(session)
    except MissingSecretKeyError as e:
        if not sealed:
            return Check("secret key", Verdict.OK, "none yet (made on first use), nothing sealed")
        return Check("secret key", Verdict.FAIL, f"{e} ({len(sealed)} stored sessions)")
    except SecretKeyError as e:
        return Check("secret key", Verdict.FAIL, str(e))
    origin = "TGSTAT_SECRET_KEY" if settings.secret_key is not None else str(key_file)
    detail = f"{origin}: opens the {len(sealed)} stored sessions"
    if settings.secret_key is None and _readable_by_others(key_file):
        return Check("secret key", Verdict.WARN, f"{detail}; readable by others: chmod 600")
    return Check("secret key", Verdict.OK, detail)


def _readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
