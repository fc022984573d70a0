"""DuckDbLakeQuery: SQL over the enriched Parquet with an in-memory DuckDB."""

from __future__ import annotations

from typing import Any

import duckdb
import fsspec

from tgstat.ports.lake_query import NAMED_QUERIES, LakeQuery, QueryError

__all__ = ["NAMED_QUERIES", "DuckDbLakeQuery"]

_VIEW = """
    CREATE VIEW telegram AS
    SELECT * FROM read_parquet(
        getvariable('lake_glob'), hive_partitioning = true, hive_types = {'context_date': DATE}
    )
"""


class DuckDbLakeQuery(LakeQuery):
    """Queries every Parquet file matching ``glob`` (hive layout ``context_date=...``).

    Each query runs on a fresh in-memory database, so days written since are seen. A
    non-local glob (``s3://...``) is read through fsspec with ``storage_options`` (the same
    ones the lake store takes), which needs no DuckDB extension download (httpfs) but is
    slower than it: for large S3 lakes use Athena (db/athena/telegram.sql). The SQL runs
    with the caller's rights (DuckDB can read and write local files): this is an analyst's
    tool, not a service endpoint.
    """

    def __init__(self, glob: str, **storage_options: Any) -> None:
        self._glob = glob
        self._storage_options = storage_options
        protocol, _ = fsspec.core.split_protocol(glob)
        self._protocol = protocol if protocol not in (None, "file", "local") else None

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with duckdb.connect(":memory:") as con:
            if self._protocol is not None:
                # A fresh instance: a cached one keeps its listings, hiding days written since.
                options = {**self._storage_options, "skip_instance_cache": True}
                con.register_filesystem(fsspec.filesystem(self._protocol, **options))
            con.execute("SET VARIABLE lake_glob = ?", [self._glob])
            try:
                con.execute(_VIEW)
            except duckdb.IOException as e:
                if "No files found" in str(e):
                    raise QueryError(
                        f"no enriched data yet under {self._glob} (run `tgstat lake etl`)"
                    ) from e
                raise QueryError(f"cannot read {self._glob}: {_first_line(e)}") from e
            try:
                result = con.execute(sql)
                columns = [d[0] for d in result.description or ()]
                rows = result.fetchall() if result.description else []
            except duckdb.Error as e:
                raise QueryError(_first_line(e)) from e
        return columns, rows


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
