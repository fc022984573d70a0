"""The dbmate migrations build the schema of docs/design.md section 3, reversibly."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tgstat.app.migrate import dbmate, migrate, migrations_dir

REAL_MIGRATIONS = sorted(migrations_dir().glob("*.sql"))
"""The real migrations, in order (read before any test points dbmate elsewhere)."""
REAL_SHAPES = "20261129000001_real_telegram_shapes.sql"

BIGINT, TEXT, BOOL, TSTZ, BYTEA, INT = (
    "bigint",
    "text",
    "boolean",
    "timestamp with time zone",
    "bytea",
    "integer",
)
INTEGERS = {BIGINT, INT}

REQUIRED: dict[str, dict[str, set[str]]] = {
    "config__tg_bot_session_pool": {
        "pk": INTEGERS,
        "api_id": INTEGERS,
        "api_hash": {BYTEA, TEXT},
        "bot_token": {BYTEA, TEXT},
        "phone_number": {TEXT},
        "session_bytes": {BYTEA},
        "status": {TEXT},
        "status_reason": {TEXT},
        "status_changed_at": {TSTZ},
        "created_at": {TSTZ},
        "updated_at": {TSTZ},
    },
    "config__tg_channel": {
        "pk": INTEGERS,
        "tg_channel_id": {BIGINT},
        "tg_channel_name": {TEXT},
        "config__tg_bot_session_pool_pk": INTEGERS,
        "admin_log_cursor": {BIGINT},
    },
    "stat_user": {
        "pk": INTEGERS,
        "tg_user_id": {BIGINT},
        "tg_channel_id": {BIGINT},
        "first_name": {TEXT},
        "last_name": {TEXT},
        "user_name": {TEXT},
        "scam": {BOOL},
        "premium": {BOOL},
        "verified": {BOOL},
        "phone": {TEXT},
        "timestamp": {TSTZ},
        "is_joined_by_link": {BOOL},
        "joined_at": {TSTZ},
        "left_at": {TSTZ},
        "bot": {BOOL},
        "is_removed_by_admin": {BOOL},
        "invite_link": {TEXT},
        "invite_link_title": {TEXT},
    },
    "stat_post": {
        "pk": INTEGERS,
        "timestamp": {TSTZ},
        "tg_channel_id": {BIGINT},
        "tg_post_id": {BIGINT},
        "message": {TEXT},
        "views": INTEGERS,
        "views_1h": INTEGERS,
        "views_24h": INTEGERS,
        "total_reactions_count": INTEGERS,
        "reactions_1h": INTEGERS,
        "reactions_24h": INTEGERS,
        "comments_messages_count": INTEGERS,
        "comments_messages_count_1h": INTEGERS,
        "comments_messages_count_24h": INTEGERS,
        "comments_users_count": INTEGERS,
        "comments_channels_count": INTEGERS,
        "link": {TEXT},
        "media": {TEXT},
        "date_of_post": {TSTZ},
        "forwards": INTEGERS,
        "grouped_id": {BIGINT},
        "deleted_at": {TSTZ},
        "thread_unreadable_at": {TSTZ},
    },
    "stat_reaction": {
        "pk": INTEGERS,
        "timestamp": {TSTZ},
        "tg_channel_id": {BIGINT},
        "tg_post_id": {BIGINT},
        "reaction_count": INTEGERS,
        "reaction_emoticon": {TEXT},
        "reaction_emoticon_code": {TEXT},
    },
    "stat_post_snapshot": {
        "tg_channel_id": {BIGINT},
        "tg_post_id": {BIGINT},
        "taken_at": {TSTZ},
        "views": INTEGERS,
        "reactions_count": INTEGERS,
        "comments_count": INTEGERS,
    },
    "stat_comment": {
        "tg_channel_id": {BIGINT},
        "tg_post_id": {BIGINT},
        "tg_comment_id": {BIGINT},
        "date_of_comment": {TSTZ},
        "author_kind": {TEXT},
        "author_id": {BIGINT},
    },
    "stat_channel_snapshot": {
        "pk": INTEGERS,
        "tg_channel_id": {BIGINT},
        "taken_at": {TSTZ},
        "subscribers": INTEGERS,
    },
}
PRIMARY_KEY_TABLES = (
    "config__tg_bot_session_pool",
    "config__tg_channel",
    "stat_user",
    "stat_post",
    "stat_reaction",
    "stat_channel_snapshot",
)


def columns(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        out.setdefault(str(table), {})[str(column)] = str(data_type)
    return out


def _seed_one_of_each(db: psycopg.Connection[tuple[object, ...]]) -> None:
    """A session, channel 10, post 1, an open episode of user 7, a subscriber reading and an
    album follow-up: the rows the constraint cases collide with."""
    db.execute(
        "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number)"
        " VALUES (1, 'h', '+100')"
    )
    db.execute(
        "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name,"
        " config__tg_bot_session_pool_pk) SELECT 10, 'ten', pk FROM config__tg_bot_session_pool"
    )
    db.execute(
        'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link, date_of_post)'
        " VALUES (now(), 10, 1, 'l', now())"
    )
    db.execute(
        'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", joined_at)'
        " VALUES (7, 10, now(), now())"
    )
    db.execute(
        "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
        " VALUES (10, '2026-11-01T00:00Z', 5)"
    )
    db.execute(
        "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at, grouped_id)"
        " VALUES (10, 1, 3600, now(), 77)"
    )


def schema_fingerprint(url: str) -> list[tuple[object, ...]]:
    """Columns, constraints, indexes and tables' storage parameters of the public schema,
    in a stable order."""
    with psycopg.connect(url) as conn:
        cols = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " ORDER BY 1, 2"
        ).fetchall()
        cons = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ).fetchall()
        idx = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = 'public' ORDER BY 1, 2"
        ).fetchall()
        seqs = conn.execute(
            "SELECT 'sequence', sequencename FROM pg_sequences WHERE schemaname = 'public'"
            " ORDER BY 2"
        ).fetchall()
        params = conn.execute(
            "SELECT relname, 'reloptions', array_to_string(reloptions, ',') FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL ORDER BY 1"
        ).fetchall()
    return [*cols, *cons, *idx, *seqs, *params]


def tgstat_schema(url: str) -> list[tuple[object, ...]]:
    """The fingerprint without dbmate's own table."""
    return [r for r in schema_fingerprint(url) if r[0] != "schema_migrations"]


@pytest.fixture(name="stepwise")
def _stepwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty migrations folder dbmate reads instead of the real one: a test copies the
    real migrations in one at a time."""
    steps = tmp_path / "migrations"
    steps.mkdir()
    monkeypatch.setattr("tgstat.app.migrate.migrations_dir", lambda: steps)
    return steps


def add_migrations(steps: Path, up_to: str) -> None:
    """Copy the real migrations up to and including ``up_to`` into ``steps``."""
    for f in REAL_MIGRATIONS:
        if f.name <= up_to:
            shutil.copy(f, steps / f.name)


class TestSchema:
    """Every table and column the design names exists with a sensible type."""

    def test_required_tables_and_columns(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        actual = columns(db)
        for table, required in REQUIRED.items():
            assert table in actual, f"missing table {table}"
            for column, types in required.items():
                assert column in actual[table], f"missing column {table}.{column}"
                assert actual[table][column] in types, (
                    f"{table}.{column} is {actual[table][column]}, expected one of {types}"
                )

    def test_every_instant_is_timestamptz(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        naive = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
        ).fetchall()
        assert naive == []

    def test_every_primary_key_is_pk(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        keys = db.execute(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.contype = 'p' AND c.connamespace = 'public'::regnamespace"
        ).fetchall()
        by_table = {str(t): str(col) for t, col in keys}
        assert {t: by_table.get(t) for t in PRIMARY_KEY_TABLES} == dict.fromkeys(
            PRIMARY_KEY_TABLES, "pk"
        )
        assert [t for t, cols in columns(db).items() if "id" in cols] == []
        fk = db.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'config__tg_channel'::regclass AND contype = 'f'"
        ).fetchall()
        assert fk == [
            (
                "FOREIGN KEY (config__tg_bot_session_pool_pk)"
                " REFERENCES config__tg_bot_session_pool(pk)",
            )
        ]

    @pytest.mark.parametrize(
        ("statement", "violation"),
        [
            (
                "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number, status)"
                " VALUES (1, 'x', '+1', 'paused')",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name,"
                " config__tg_bot_session_pool_pk) VALUES (5, 'c', 999)",
                psycopg.errors.ForeignKeyViolation,
            ),
            (
                'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link,'
                " date_of_post, views) VALUES (now(), 10, 1, 'l', now(), -1)",
                psycopg.errors.CheckViolation,
            ),
            (
                'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link,'
                " date_of_post) VALUES (now(), 10, 1, 'l', now())",
                psycopg.errors.UniqueViolation,
            ),
            (
                'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", joined_at)'
                " VALUES (7, 10, now(), now())",
                psycopg.errors.UniqueViolation,
            ),
            (
                'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", joined_at,'
                " is_removed_by_admin) VALUES (8, 10, now(), now(), true)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_comment VALUES (10, 1, 5, now(), 'group', 1)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_comment VALUES (10, 1, 5, now(), 'none', 1888000555)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_comment VALUES (10, 1, 5, now(), 'user', NULL)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_comment VALUES (10, 1, 5, now(), 'anonymous', NULL)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
                " VALUES (10, '2026-11-01T01:00Z', -1)",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
                " VALUES (10, '2026-11-01T00:00Z', 6)",
                psycopg.errors.UniqueViolation,
            ),
            (
                "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
                " VALUES (11, '2026-11-01T00:00Z', 6)",
                psycopg.errors.ForeignKeyViolation,
            ),
            (
                "INSERT INTO stat_followup (tg_channel_id, tg_post_id, horizon_s, due_at,"
                " grouped_id) VALUES (10, 2, 3600, now(), 77)",
                psycopg.errors.UniqueViolation,
            ),
        ],
        ids=[
            "status",
            "channel-fk",
            "negative-count",
            "post-key",
            "one-open-episode",
            "removed-while-open",
            "author-kind",
            "no-sender-with-author",
            "user-without-author",
            "anonymous-without-author",
            "negative-subscribers",
            "reading-twice",
            "reading-channel-fk",
            "album-followup-twice",
        ],
    )
    def test_constraints_refuse_dishonest_rows(
        self,
        db: psycopg.Connection[tuple[object, ...]],
        statement: str,
        violation: type[Exception],
    ) -> None:
        _seed_one_of_each(db)
        with pytest.raises(violation):
            db.execute(statement)

    def test_every_comment_author_kind_is_accepted(
        self, db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        _seed_one_of_each(db)
        db.execute(
            "INSERT INTO stat_comment VALUES (10, 1, 11, now(), 'user', 42),"
            " (10, 1, 12, now(), 'channel', 777), (10, 1, 13, now(), 'anonymous', 1888000555),"
            " (10, 1, 14, now(), 'none', NULL)"
        )
        assert db.execute("SELECT count(*) FROM stat_comment").fetchone() == (4,)

    def test_collector_indexes_exist(self, db: psycopg.Connection[tuple[object, ...]]) -> None:
        defs = [
            str(r[0])
            for r in db.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        ]
        assert any(
            "stat_user" in d and '(tg_channel_id, tg_user_id, "timestamp" DESC' in d for d in defs
        )
        assert any("stat_post" in d and "(tg_channel_id, tg_post_id)" in d for d in defs)


class TestMigrations:
    """dbmate applies, rolls back and re-applies the migrations to the same schema."""

    def test_rollback_all_then_up_gives_the_same_schema(self, empty_db_url: str) -> None:
        migrate(empty_db_url)
        before = schema_fingerprint(empty_db_url)
        applied = len(list(migrations_dir().glob("*.sql")))
        for _ in range(applied):
            dbmate(empty_db_url, "rollback")
        with psycopg.connect(empty_db_url) as conn:
            left = columns(conn)
        assert set(left) <= {"schema_migrations"}
        migrate(empty_db_url)
        assert schema_fingerprint(empty_db_url) == before

    def test_up_twice_is_a_no_op(self, empty_db_url: str) -> None:
        migrate(empty_db_url)
        before = schema_fingerprint(empty_db_url)
        migrate(empty_db_url)
        assert schema_fingerprint(empty_db_url) == before

    def test_each_down_restores_the_schema_before_its_up(
        self, empty_db_url: str, stepwise: Path
    ) -> None:
        previous = tgstat_schema(empty_db_url)
        for name in (f.name for f in REAL_MIGRATIONS):
            add_migrations(stepwise, name)
            dbmate(empty_db_url, "up")
            after = tgstat_schema(empty_db_url)
            assert after != previous, name
            dbmate(empty_db_url, "rollback")
            assert tgstat_schema(empty_db_url) == previous, f"{name}: down differs"
            dbmate(empty_db_url, "up")
            assert tgstat_schema(empty_db_url) == after, f"{name}: up again differs"
            previous = after


T = datetime(2026, 11, 1, tzinfo=UTC)


class TestRealTelegramShapesMigration:
    """Rows written before the migration survive it, its down and its up again."""

    def test_rows_survive_up_down_up(self, empty_db_url: str, stepwise: Path) -> None:
        before = max(f.name for f in REAL_MIGRATIONS if f.name < REAL_SHAPES)
        add_migrations(stepwise, before)
        dbmate(empty_db_url, "up")
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number)"
                " VALUES (1, 'h', '+100')"
            )
            conn.execute(
                "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name, session_pool_id)"
                " VALUES (10, 'ten', 1)"
            )
            conn.execute(
                'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", joined_at,'
                " left_at) VALUES (7, 10, %(t)s, %(t)s, NULL), (8, 10, %(t)s, %(t)s, %(t)s)",
                {"t": T},
            )
            conn.execute(
                'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link,'
                " date_of_post, views) VALUES (%(t)s, 10, 1, 'l', %(t)s, 50)",
                {"t": T},
            )
            conn.execute(
                "INSERT INTO stat_comment VALUES (10, 1, 1, %(t)s, 'user', 42),"
                " (10, 1, 2, %(t)s, 'channel', 777)",
                {"t": T},
            )

        add_migrations(stepwise, REAL_SHAPES)
        dbmate(empty_db_url, "up")
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            assert conn.execute(
                "SELECT pk, config__tg_bot_session_pool_pk FROM config__tg_channel"
            ).fetchall() == [(1, 1)]
            # closed before: closed by a leave (the only exit read then); open: NULL
            assert conn.execute(
                "SELECT pk, tg_user_id, is_removed_by_admin, bot, invite_link FROM stat_user"
                " ORDER BY pk"
            ).fetchall() == [(1, 7, None, None, None), (2, 8, False, None, None)]
            assert conn.execute(
                "SELECT pk, views, grouped_id, deleted_at, thread_unreadable_at FROM stat_post"
            ).fetchall() == [(1, 50, None, None, None)]
            # the identities go on where they were
            assert conn.execute(
                'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", left_at,'
                " is_removed_by_admin) VALUES (9, 10, %(t)s, %(t)s, true) RETURNING pk",
                {"t": T},
            ).fetchall() == [(3,)]
            conn.execute(
                "INSERT INTO stat_comment VALUES (10, 1, 3, %(t)s, 'anonymous', 1888000555),"
                " (10, 1, 4, %(t)s, 'none', NULL)",
                {"t": T},
            )
            conn.execute(
                "INSERT INTO stat_channel_snapshot (tg_channel_id, taken_at, subscribers)"
                " VALUES (10, %(t)s, 1000)",
                {"t": T},
            )

        dbmate(empty_db_url, "rollback")
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            assert conn.execute(
                "SELECT id, session_pool_id FROM config__tg_channel"
            ).fetchall() == [(1, 1)]
            assert conn.execute("SELECT id, tg_user_id FROM stat_user ORDER BY id").fetchall() == [
                (1, 7),
                (2, 8),
                (3, 9),
            ]
            # the old schema cannot hold authorless kinds: only those comments go
            assert conn.execute(
                "SELECT tg_comment_id, author_kind FROM stat_comment ORDER BY 1"
            ).fetchall() == [(1, "user"), (2, "channel")]

        dbmate(empty_db_url, "up")
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            assert conn.execute("SELECT pk, tg_user_id FROM stat_user ORDER BY pk").fetchall() == [
                (1, 7),
                (2, 8),
                (3, 9),
            ]
            assert conn.execute("SELECT count(*) FROM stat_channel_snapshot").fetchall() == [(0,)]


class TestDbmateSeesNoSecretInArgv:
    """dbmate gets the database URL through its environment: a command line is readable by
    every local user (``ps``, ``/proc/PID/cmdline``)."""

    def test_password_is_not_in_dbmates_argv(
        self, empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import tgstat.app.migrate as migrate_module

        real = migrate_module.dbmate_executable()
        seen = tmp_path / "argv"
        shim = tmp_path / "dbmate"
        # records the command line dbmate is given, then runs the real dbmate with it
        shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{seen}"\nexec "{real}" "$@"\n')
        shim.chmod(0o700)
        monkeypatch.setattr(migrate_module, "dbmate_executable", lambda: str(shim))
        with_password = empty_db_url.replace("postgres@", "postgres:s3cr3t-pw@", 1)
        assert "s3cr3t-pw" in with_password

        migrate(with_password)

        argv = seen.read_text()
        assert "up" in argv.split()
        assert "s3cr3t-pw" not in argv
        assert "postgres://" not in argv
        with psycopg.connect(empty_db_url) as conn:
            assert conn.execute("SELECT count(*) FROM stat_post").fetchone() == (0,)
