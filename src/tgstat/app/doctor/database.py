"""The database checks of ``tgstat doctor``: the server and schema, then what it holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from tgstat.app.database import connect, database_url, redact
from tgstat.app.doctor.model import Check, Verdict, ago
from tgstat.app.doctor.services import secret_key_check
from tgstat.app.migrate import migrations_dir
from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError

Conn = psycopg.Connection[Any]
STALE_AFTER = timedelta(minutes=15)
"""A channel not collected for this long (3 intervals of tg-collect) is worth a warning."""
CHANNEL_LINES = 20


def database_checks(settings: Settings, now: datetime) -> Iterator[Check]:
    """The database, then what it holds (sessions, channels, follow-ups, sealed secrets)."""
    dependent = ("sessions", "channels", "follow-ups", "secret key")
    try:
        with database_url(settings) as url, connect(url) as conn:
            conn.autocommit = True
            yield _migrations(conn, redact(url))
            if not _has_schema(conn):
                yield from (Check(n, Verdict.SKIP, "no schema") for n in dependent)
                return
            yield _sessions(conn, now)
            yield from _channels(conn, now)
            yield _followups(conn, now)
            yield _secret_key(conn, settings)
    except TgstatError as e:
        yield Check("database", Verdict.FAIL, str(e))
        yield from (Check(n, Verdict.SKIP, "database unreachable") for n in dependent)


def _has_schema(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('public.config__tg_channel') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _migrations(conn: Conn, shown_url: str) -> Check:
    known = {p.name.split("_", 1)[0] for p in migrations_dir().glob("*.sql")}
    if conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() == (None,):
        return Check("database", Verdict.FAIL, f"{shown_url}: no schema: run `tgstat migrate`")
    applied = {str(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
    pending, unknown = sorted(known - applied), sorted(applied - known)
    if unknown:
        return Check(
            "database",
            Verdict.FAIL,
            f"{shown_url}: applied migrations this tgstat does not have: {', '.join(unknown)}"
            " (a newer tgstat wrote this database)",
        )
    if pending:
        return Check(
            "database",
            Verdict.WARN,
            f"{shown_url}: {len(pending)} migrations pending ({', '.join(pending)}): the next"
            " command applies them, or `tgstat migrate`",
        )
    return Check("database", Verdict.OK, f"{shown_url}: reachable, {len(applied)} migrations")


def _sessions(conn: Conn, now: datetime) -> Check:
    rows = conn.execute(
        "SELECT status, count(*), max(updated_at), max(status_changed_at)"
        " FROM config__tg_bot_session_pool GROUP BY status"
    ).fetchall()
    by_status = {r[0]: r[1:] for r in rows}
    enabled, last_used, _ = by_status.get("enabled", (0, None, None))
    banned, _, banned_at = by_status.get("banned", (0, None, None))
    if not enabled and not banned:
        return Check(
            "sessions",
            Verdict.FAIL,
            "none: add one with `python -m tgstat.flows.add_bot_session`",
        )
    if not enabled:
        why = conn.execute(
            "SELECT status_reason FROM config__tg_bot_session_pool WHERE status = 'banned'"
            " ORDER BY status_changed_at DESC LIMIT 1"
        ).fetchone()
        return Check(
            "sessions",
            Verdict.FAIL,
            f"all {banned} banned (last {ago(banned_at, now)}: {why[0] if why else '?'}):"
            " add a session with `python -m tgstat.flows.add_bot_session`",
        )
    detail = f"{enabled} enabled (last used {ago(last_used, now)}), {banned} banned"
    return Check("sessions", Verdict.OK, detail)


def _channels(conn: Conn, now: datetime) -> Iterator[Check]:
    rows = conn.execute(
        """
        SELECT c.tg_channel_id, c.tg_channel_name, s.status, c.last_collected_at
        FROM config__tg_channel c
        JOIN config__tg_bot_session_pool s ON s.pk = c.config__tg_bot_session_pool_pk
        ORDER BY c.tg_channel_name
        """
    ).fetchall()
    if not rows:
        yield Check(
            "channels",
            Verdict.FAIL,
            'none: add one with `python -m tgstat.flows.add_channel --phone P --channel "T"`',
        )
        return
    for channel_id, name, status, last in rows[:CHANNEL_LINES]:
        verdict = Verdict.OK if last is not None and now - last <= STALE_AFTER else Verdict.WARN
        session = "" if status == "enabled" else f" (its session is {status})"
        yield Check(
            f"channel {name!r}", verdict, f"{channel_id}: collected {ago(last, now)}{session}"
        )
    if len(rows) > CHANNEL_LINES:
        yield Check("channels", Verdict.OK, f"and {len(rows) - CHANNEL_LINES} more")


def _followups(conn: Conn, now: datetime) -> Check:
    measured = conn.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'stat_followup' AND column_name = 'measured_at'"
    ).fetchone()
    # done: measured (when the schema records it), else handed to the scheduler
    done = sql.Identifier("measured_at" if measured else "scheduled_at")
    query = sql.SQL(
        "SELECT count(*) FILTER (WHERE due_at >= %(now)s),"
        " count(*) FILTER (WHERE due_at < %(now)s - interval '5 minutes'),"
        " min(due_at) FILTER (WHERE due_at < %(now)s - interval '5 minutes'),"
        " count(*) FILTER (WHERE scheduled_at IS NULL AND due_at >= %(now)s)"
        " FROM stat_followup WHERE {} IS NULL"
    ).format(done)
    row = conn.execute(query, {"now": now}).fetchone()
    pending, overdue, oldest, unscheduled = row if row else (0, 0, None, 0)
    detail = f"{pending} pending ({unscheduled} not handed to Prefect yet), {overdue} overdue"
    if overdue:
        return Check("follow-ups", Verdict.WARN, f"{detail}, the oldest due {ago(oldest, now)}")
    return Check("follow-ups", Verdict.OK, detail)


def _secret_key(conn: Conn, settings: Settings) -> Check:
    rows = conn.execute(
        "SELECT api_hash, session_bytes FROM config__tg_bot_session_pool"
        " WHERE phone_number NOT LIKE 'replay:%'"
    ).fetchall()
    return secret_key_check(
        settings, [(bytes(a), None if s is None else bytes(s)) for a, s in rows]
    )
