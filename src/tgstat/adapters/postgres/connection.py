"""The pool type, the connection-bound base every Postgres store builds on, and the one
place where the database going away becomes tgstat's own error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tgstat.ports.repository import DatabaseUnavailableError

Pool = AsyncConnectionPool[AsyncConnection[TupleRow]]

# SQLSTATE classes of a connection that is gone: 08 connection exception, 57P operator
# intervention (admin/crash shutdown, cannot connect now).
_LOST_SQLSTATES = ("08", "57P")


def database_error(e: psycopg.Error) -> DatabaseUnavailableError:
    """The one-line DatabaseUnavailableError for a psycopg error (chain it: ``from e``).

    ``database pool timeout after N s: ...`` for a pool timeout, ``database connection
    lost: ...`` when the server went away (shutdown, crash, broken socket: SQLSTATE 08/57P,
    or none), else ``database error: ...``; then the first line of psycopg's message.
    """
    # the first line only: the others repeat the query ("LINE 1: ...") or give hints
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0].strip()
    if isinstance(e, PoolTimeout):
        return DatabaseUnavailableError(f"database pool timeout: {reason}")
    sqlstate = e.sqlstate or ""
    if isinstance(e, psycopg.OperationalError) and (
        not sqlstate or sqlstate.startswith(_LOST_SQLSTATES)
    ):
        return DatabaseUnavailableError(f"database connection lost: {reason}")
    return DatabaseUnavailableError(f"database error: {reason}")


@asynccontextmanager
async def pooled_connection(pool: Pool) -> AsyncIterator[AsyncConnection[TupleRow]]:
    """A connection of ``pool`` for the block.

    Raises DatabaseUnavailableError (the psycopg error chained) when no connection comes
    within the pool's timeout (``database pool timeout after N s``) or when the block fails
    on a lost connection or another operational error of the server (``database connection
    lost: ...``); other errors pass unchanged.
    """
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout as e:
        raise DatabaseUnavailableError(
            f"database pool timeout after {pool.timeout:g} s: no connection to PostgreSQL"
            " could be opened or became free (is the server up?)"
        ) from e
    except (psycopg.OperationalError, psycopg.InterfaceError) as e:
        raise database_error(e) from e


class PostgresConnection:
    """One psycopg connection (autocommit outside ``transaction()``) and the query helpers."""

    def __init__(self, conn: AsyncConnection[TupleRow]) -> None:
        self._conn = conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield

    def _require_transaction(self) -> None:
        # Writes outside the service's transaction would autocommit piecemeal.
        if self._conn.info.transaction_status is TransactionStatus.IDLE:
            raise RuntimeError("repository writes must run inside session.transaction()")

    async def _fetchall(self, query: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        async with self._conn.cursor() as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    async def _execute(self, query: str, params: Mapping[str, Any]) -> None:
        self._require_transaction()
        await self._conn.execute(query, params)

    async def _executemany(self, query: str, params: Sequence[Mapping[str, Any]]) -> None:
        """One statement for many parameter sets (psycopg pipelines them)."""
        self._require_transaction()
        if params:
            async with self._conn.cursor() as cur:
                await cur.executemany(query, params)

    async def _copy_rows(
        self,
        table: sql.Composable,
        columns: Sequence[tuple[str, str]],
        rows: Iterable[Sequence[Any]],
        cur: AsyncCursor[TupleRow],
    ) -> None:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
        )
        async with cur.copy(copy_sql) as copy:
            copy.set_types([pgtype for _, pgtype in columns])
            for row in rows:
                await copy.write_row(row)

    async def _copy_new(
        self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
    ) -> None:
        """COPY rows the caller checked to be new straight into ``table``.

        COPY inserts in batches and is ~3x faster than INSERT ... SELECT; a row that
        appeared meanwhile (only possible without the channel lock) fails the transaction
        with a unique violation rather than duplicating anything.
        """
        self._require_transaction()
        async with self._conn.cursor() as cur:
            await self._copy_rows(sql.Identifier(table), columns, rows, cur)

    async def _copy_in(
        self, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Load rows into an empty session-temporary staging table with binary COPY."""
        self._require_transaction()
        ident = sql.Identifier(table)
        ddl = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS").format(
            ident,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pgtype))
                for name, pgtype in columns
            ),
        )
        async with self._conn.cursor() as cur:
            await cur.execute(ddl)
            await cur.execute(sql.SQL("TRUNCATE {}").format(ident))
            await self._copy_rows(ident, columns, rows, cur)
