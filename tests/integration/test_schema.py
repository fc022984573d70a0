"""The dbmate migrations build the schema of DESIGN.md section 3, reversibly."""

from __future__ import annotations

import psycopg
import pytest

from tgstat.app.migrate import dbmate, migrate, migrations_dir

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
        "id": INTEGERS,
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
        "id": INTEGERS,
        "tg_channel_id": {BIGINT},
        "tg_channel_name": {TEXT},
        "session_pool_id": INTEGERS,
        "admin_log_cursor": {BIGINT},
    },
    "stat_user": {
        "id": INTEGERS,
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
    },
    "stat_post": {
        "id": INTEGERS,
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
    },
    "stat_reaction": {
        "id": INTEGERS,
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
}


def columns(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        out.setdefault(str(table), {})[str(column)] = str(data_type)
    return out


def schema_fingerprint(url: str) -> list[tuple[object, ...]]:
    """Columns, constraints and indexes of the public schema, in a stable order."""
    with psycopg.connect(url) as conn:
        cols = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
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
    return [*cols, *cons, *idx]


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

    @pytest.mark.parametrize(
        ("statement", "violation"),
        [
            (
                "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number, status)"
                " VALUES (1, 'x', '+1', 'paused')",
                psycopg.errors.CheckViolation,
            ),
            (
                "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name, session_pool_id)"
                " VALUES (5, 'c', 999)",
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
        ],
        ids=["status", "channel-fk", "negative-count", "post-key", "one-open-episode"],
    )
    def test_constraints_refuse_dishonest_rows(
        self,
        db: psycopg.Connection[tuple[object, ...]],
        statement: str,
        violation: type[Exception],
    ) -> None:
        db.execute(
            "INSERT INTO config__tg_bot_session_pool (api_id, api_hash, phone_number)"
            " VALUES (1, 'h', '+100')"
        )
        db.execute(
            "INSERT INTO config__tg_channel (tg_channel_id, tg_channel_name, session_pool_id)"
            " SELECT 10, 'ten', id FROM config__tg_bot_session_pool"
        )
        db.execute(
            'INSERT INTO stat_post ("timestamp", tg_channel_id, tg_post_id, link, date_of_post)'
            " VALUES (now(), 10, 1, 'l', now())"
        )
        db.execute(
            'INSERT INTO stat_user (tg_user_id, tg_channel_id, "timestamp", joined_at)'
            " VALUES (7, 10, now(), now())"
        )
        with pytest.raises(violation):
            db.execute(statement)

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
