"""DuckDbLakeQuery: SQL over the enriched Parquet with an in-memory DuckDB."""

from __future__ import annotations

from typing import Any

import duckdb
import fsspec

from tgstat.ports.lake_query import (
    EVENT_COLUMNS,
    MESSAGES_VIEW,
    NAMED_QUERIES,
    TELEGRAM_COLUMNS,
    LakeQuery,
    QueryError,
)

__all__ = ["NAMED_QUERIES", "DuckDbLakeQuery"]


def _empty_sql(columns: tuple[tuple[str, str], ...]) -> str:
    typed = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns)
    return f"SELECT {typed}, CAST(NULL AS DATE) AS context_date WHERE false"


_READ = """
    UNION ALL BY NAME
    SELECT * FROM read_parquet(
        getvariable('{variable}'), hive_partitioning = true,
        hive_types = {{'context_date': DATE}}, union_by_name = true
    )
"""


def _table_sql(columns: tuple[tuple[str, str], ...], variable: str) -> str:
    # An empty relation of the full schema first: days written before a column existed
    # read it as NULL, and the columns keep their order and types whatever the files hold.
    return _empty_sql(columns) + _READ.format(variable=variable)


_TELEGRAM = _table_sql(TELEGRAM_COLUMNS, "messages_glob")
_EVENTS = _table_sql(EVENT_COLUMNS, "events_glob")
_NO_EVENTS = _empty_sql(EVENT_COLUMNS)


class DuckDbLakeQuery(LakeQuery):
    """Queries every Parquet file matching ``messages_glob`` (table ``telegram``) and
    ``events_glob`` (``telegram_event``), hive layout ``context_date=...``; ``messages``
    is the view MESSAGES_VIEW over ``telegram``.

    Each query runs on a fresh in-memory database, so days written since are seen. A
    non-local glob (``s3://...``) is read through fsspec with ``storage_options`` (the same
    ones the lake store takes), which needs no DuckDB extension download (httpfs) but is
    slower than it: for large S3 lakes use Athena (db/athena/telegram.sql). The SQL runs
    with the caller's rights (DuckDB can read and write local files): this is an analyst's
    tool, not a service endpoint.
    """

    def __init__(self, messages_glob: str, events_glob: str, **storage_options: Any) -> None:
        self._globs = messages_glob, events_glob
        self._storage_options = storage_options
        protocol, _ = fsspec.core.split_protocol(messages_glob)
        self._protocol = protocol if protocol not in (None, "file", "local") else None

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with duckdb.connect(":memory:") as con:
            if self._protocol is not None:
                # A fresh instance: a cached one keeps its listings, hiding days written since.
                options = {**self._storage_options, "skip_instance_cache": True}
                con.register_filesystem(fsspec.filesystem(self._protocol, **options))
            con.execute("SET VARIABLE messages_glob = ?", [self._globs[0]])
            con.execute("SET VARIABLE events_glob = ?", [self._globs[1]])
            self._create_views(con)
            try:
                result = con.execute(sql)
                columns = [d[0] for d in result.description or ()]
                rows = result.fetchall() if result.description else []
            except duckdb.Error as e:
                raise QueryError(_first_line(e)) from e
        return columns, rows

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        messages_glob, events_glob = self._globs
        try:
            con.execute(f"CREATE VIEW telegram AS {_TELEGRAM}")
        except duckdb.IOException as e:
            if "No files found" in str(e):
                raise QueryError(
                    f"no enriched data yet under {messages_glob} (run `tgstat lake etl`)"
                ) from e
            raise QueryError(f"cannot read {messages_glob}: {_first_line(e)}") from e
        try:
            con.execute(f"CREATE VIEW telegram_event AS {_EVENTS}")
        except duckdb.IOException as e:
            if "No files found" not in str(e):  # days written before the table existed
                raise QueryError(f"cannot read {events_glob}: {_first_line(e)}") from e
            con.execute(f"CREATE VIEW telegram_event AS {_NO_EVENTS}")
        con.execute(f"CREATE VIEW messages AS {MESSAGES_VIEW}")


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
