"""The one settings object, read from the environment (only here in tgstat)."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

import attrs
import platformdirs

from tgstat.domain.errors import TgstatError


class SettingsError(TgstatError):
    """Raised when an environment variable holds an unusable value."""


@attrs.frozen
class Settings:
    """tgstat's configuration. See README's configuration table for each variable."""

    home: Path
    """TGSTAT_HOME: data directory (embedded PostgreSQL, generated keys, lake)."""
    database_url: str | None
    """TGSTAT_DATABASE_URL: a PostgreSQL server; None starts the embedded one in ``home``."""
    pool_max_size: int = 8
    """TGSTAT_DB_POOL_SIZE: maximum connections of the psycopg pool."""
    secret_key: str | None = attrs.field(default=None, repr=False)
    """TGSTAT_SECRET_KEY: Fernet key sealing secrets; None: a key file in ``home``."""
    flood_sleep_threshold: int = 60
    """TGSTAT_FLOOD_SLEEP_S: FloodWaits up to this many seconds Telethon sleeps itself."""
    prefect_api_url: str | None = None
    """PREFECT_API_URL: where follow-up runs are scheduled; None: they stay pending."""
    collect_concurrency: int = 4
    """TGSTAT_COLLECT_CONCURRENCY: sessions collected at once by one flow run."""
    subscribers_every_s: int = 3600
    """TGSTAT_SUBSCRIBERS_EVERY_S: a channel's subscriber count is read at most this often."""
    replay_scenario: Path | None = None
    """TGSTAT_REPLAY_SCENARIO: serve this scenario on the wall clock instead of Telegram."""
    lake_url: str | None = None
    """TGSTAT_LAKE_URL: lake root, a directory or ``s3://bucket/prefix``; None: home/lake."""
    lake_tz: str = "UTC"
    """TGSTAT_LAKE_TZ: time zone whose calendar days partition the lake."""
    bot_token: str | None = attrs.field(default=None, repr=False)
    """TGSTAT_BOT_TOKEN: Bot API token for ``lake poll`` / ``lake set-webhook``."""
    bot_secret_token: str | None = attrs.field(default=None, repr=False)
    """TGSTAT_BOT_SECRET_TOKEN: the webhook's X-Telegram-Bot-Api-Secret-Token."""
    signin_api_hash: str | None = attrs.field(default=None, repr=False)
    """TGSTAT_API_HASH: ``add-bot-session``'s api_hash, instead of its no-echo prompt."""
    signin_bot_token: str | None = attrs.field(default=None, repr=False)
    """TGSTAT_SESSION_BOT_TOKEN: ``add-bot-session``'s bot token, instead of its prompt."""
    bot_chat_ids: frozenset[int] | None = None
    """TGSTAT_BOT_CHAT_IDS: only these chats are stored; None: every chat."""
    webhook_max_connections: int = 256
    """TGSTAT_WEBHOOK_MAX_CONNECTIONS: connections the lake webhook holds open at once."""
    webhook_header_timeout_s: int = 10
    """TGSTAT_WEBHOOK_HEADER_TIMEOUT_S: seconds a connection has to send a request head."""
    webhook_body_timeout_s: int = 30
    """TGSTAT_WEBHOOK_BODY_TIMEOUT_S: seconds a request has to send its body (else 408)."""

    @property
    def lake_root(self) -> str:
        return self.lake_url or str(self.home / "lake")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = env.get("TGSTAT_HOME") or platformdirs.user_data_dir("tgstat", appauthor=False)
        return cls(
            home=Path(home).expanduser(),
            database_url=_database_url(env.get("TGSTAT_DATABASE_URL")),
            pool_max_size=_positive_int(env, "TGSTAT_DB_POOL_SIZE", 8),
            secret_key=env.get("TGSTAT_SECRET_KEY") or None,
            flood_sleep_threshold=_positive_int(env, "TGSTAT_FLOOD_SLEEP_S", 60),
            prefect_api_url=env.get("PREFECT_API_URL") or None,
            collect_concurrency=_positive_int(env, "TGSTAT_COLLECT_CONCURRENCY", 4),
            subscribers_every_s=_positive_int(env, "TGSTAT_SUBSCRIBERS_EVERY_S", 3600),
            replay_scenario=Path(env["TGSTAT_REPLAY_SCENARIO"]).expanduser()
            if env.get("TGSTAT_REPLAY_SCENARIO")
            else None,
            lake_url=env.get("TGSTAT_LAKE_URL") or None,
            lake_tz=_time_zone(env.get("TGSTAT_LAKE_TZ") or "UTC"),
            bot_token=env.get("TGSTAT_BOT_TOKEN") or None,
            bot_secret_token=env.get("TGSTAT_BOT_SECRET_TOKEN") or None,
            bot_chat_ids=_chat_ids(env.get("TGSTAT_BOT_CHAT_IDS")),
            webhook_max_connections=_positive_int(env, "TGSTAT_WEBHOOK_MAX_CONNECTIONS", 256),
            webhook_header_timeout_s=_positive_int(env, "TGSTAT_WEBHOOK_HEADER_TIMEOUT_S", 10),
            webhook_body_timeout_s=_positive_int(env, "TGSTAT_WEBHOOK_BODY_TIMEOUT_S", 30),
            signin_api_hash=env.get("TGSTAT_API_HASH") or None,
            signin_bot_token=env.get("TGSTAT_SESSION_BOT_TOKEN") or None,
        )


def ensure_home(home: Path) -> Path:
    """``home`` (TGSTAT_HOME) as a directory, created if missing; SettingsError (one line)
    when it cannot be: a file there, a file on its path, a place nothing can be created."""
    try:
        home.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SettingsError(
            f"TGSTAT_HOME {home} is a file, not a directory: set TGSTAT_HOME to a directory"
        ) from None
    except OSError as e:
        raise SettingsError(
            f"TGSTAT_HOME {home} cannot be created ({e.strerror}): set TGSTAT_HOME to a"
            " directory you can write"
        ) from None
    return home


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _database_url(raw: str | None) -> str | None:
    """TGSTAT_DATABASE_URL checked as libpq reads it; unset or empty: None (embedded)."""
    if not raw:
        return None
    from psycopg import conninfo, errors  # only when a URL is configured: it is heavy

    from tgstat.app.redaction import redact

    scheme = raw.split("://", 1)[0] if "://" in raw else None
    if scheme is not None and scheme.lower() not in ("postgresql", "postgres"):
        problem = f"must be a postgresql:// URL, not {scheme[:20]}://"
    else:
        try:
            params = conninfo.conninfo_to_dict(raw)
        except errors.ProgrammingError as e:
            problem = f"is not a PostgreSQL URL ({' '.join(str(e).split())})"
        else:
            problem = _conninfo_problem(params)
    if problem:
        raise SettingsError(
            redact(
                f"TGSTAT_DATABASE_URL {problem}; expected a postgresql:// URL or libpq"
                f" key=value pairs, got {raw}",
                raw,
            )
        )
    return raw


def _conninfo_problem(params: Mapping[str, object]) -> str:
    if not params:
        return "names no server and no database"
    ports = str(params.get("port") or "").split(",")
    if any(p and not (p.isdigit() and 0 < int(p) < 65536) for p in ports):
        return "has a port that is not a number from 1 to 65535"
    return ""


def _time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TGSTAT_LAKE_TZ is not a known time zone: {name!r}") from None
    return name


def _chat_ids(raw: str | None) -> frozenset[int] | None:
    if not raw or not raw.strip():
        return None
    try:
        return frozenset(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(
            f"TGSTAT_BOT_CHAT_IDS must be comma-separated chat ids, got {raw!r}"
        ) from None
