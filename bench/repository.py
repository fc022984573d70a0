"""Benchmark: PostgresStatRepository upserts vs a raw binary COPY of the same rows.

Usage: python bench/repository.py [--rows 100000] [--database-url URL]

Without --database-url it starts a throwaway embedded PostgreSQL; with it, it measures on a
scratch database made on that server and dropped at the end (TGSTAT_DATABASE_URL is not read).
Both sides write the same rows to the same server in the same run: the adapter upserts
``stat_post`` rows and their snapshots (COPY into a staging table + INSERT ... ON CONFLICT,
inside one transaction); the baseline COPYs the same tuples into plain tables of the same
shape (same columns, indexes and checks). The figure that matters is the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from _common import (
    DATABASE_URL_HELP,
    HelpFormatter,
    at_least,
    database,
    database_errors,
    exit_on_stop_signals,
)
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import open_pool
from tgstat.app.migrate import migrate
from tgstat.domain.ids import ChannelId, PostId, SessionPk
from tgstat.domain.model import ChannelConfig, Post, PostCounters, SealedSession

CHANNEL = ChannelId(1_000_000_001)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def make_posts(n: int, taken_at: datetime) -> list[Post]:
    """n posts observed in one collection at ``taken_at``, as a cycle observes them."""
    posts = []
    for i in range(1, n + 1):
        pid = PostId(i)
        date = T0 + timedelta(minutes=i)
        posts.append(
            Post(
                id=pid,
                date=date,
                text=f"post number {i} with some text " * 3,
                media="photo" if i % 3 == 0 else None,
                link=f"https://t.me/bench/{i}",
                counters=PostCounters(
                    pid,
                    taken_at,
                    views=i * 7,
                    forwards=i % 13,
                    reactions=(),
                    comments=i % 17,
                ),
                has_discussion=True,
                # every fourth post in a three-message album, as photo channels post them
                grouped_id=13_900_000_000_000_000 + i // 12 if i % 4 == 0 else None,
            )
        )
    return posts


def post_tuple(p: Post, at: datetime) -> tuple[Any, ...]:
    c = p.counters
    return (
        at,
        CHANNEL,
        p.id,
        p.text,
        c.views,
        c.reactions_total,
        c.comments,
        p.link,
        p.media,
        p.date,
        c.forwards,
        p.has_discussion,
        p.grouped_id,
    )


POST_COLS = (
    ("timestamp", "timestamptz"),
    ("tg_channel_id", "int8"),
    ("tg_post_id", "int8"),
    ("message", "text"),
    ("views", "int8"),
    ("total_reactions_count", "int8"),
    ("comments_messages_count", "int8"),
    ("link", "text"),
    ("media", "text"),
    ("date_of_post", "timestamptz"),
    ("forwards", "int8"),
    ("has_discussion", "bool"),
    ("grouped_id", "int8"),
)
SNAP_COLS = (
    ("tg_channel_id", "int8"),
    ("tg_post_id", "int8"),
    ("taken_at", "timestamptz"),
    ("views", "int8"),
    ("forwards", "int8"),
    ("reactions_count", "int8"),
    ("comments_count", "int8"),
)


def raw_copy(url: str, posts: Sequence[Post], at: datetime) -> float:
    """Seconds to COPY the posts and snapshots into fresh same-shape tables."""
    with psycopg.connect(url) as conn:
        # Regular (WAL-logged) tables like the real ones: a temp table would skip the WAL
        # and flatter the baseline.
        conn.execute(
            "CREATE TABLE raw_post (LIKE stat_post INCLUDING DEFAULTS INCLUDING"
            " CONSTRAINTS INCLUDING INDEXES INCLUDING IDENTITY)"
        )
        conn.execute(
            "CREATE TABLE raw_snapshot (LIKE stat_post_snapshot INCLUDING DEFAULTS"
            " INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cur:
            for table, cols, rows in (
                ("raw_post", POST_COLS, (post_tuple(p, at) for p in posts)),
                (
                    "raw_snapshot",
                    SNAP_COLS,
                    (
                        (
                            CHANNEL,
                            p.id,
                            p.counters.taken_at,
                            p.counters.views,
                            p.counters.forwards,
                            p.counters.reactions_total,
                            p.counters.comments,
                        )
                        for p in posts
                    ),
                ),
            ):
                stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                    sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c, _ in cols)
                )
                with cur.copy(stmt) as copy:
                    copy.set_types([t for _, t in cols])
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE raw_post, raw_snapshot")
        conn.commit()
        return elapsed


async def adapter_upsert(url: str, posts: Sequence[Post], at: datetime) -> float:
    """Seconds for the adapter to upsert the posts and add their snapshots."""
    async with open_pool(url, max_size=2) as pool:
        repo = PostgresStatRepository(pool)
        async with repo.session() as s:
            start = time.perf_counter()
            async with s.transaction():
                await s.upsert_posts(CHANNEL, posts, at)
                await s.add_snapshots(CHANNEL, [p.counters.snapshot() for p in posts])
            return time.perf_counter() - start


async def configure(url: str) -> None:
    async with open_pool(url, max_size=1) as pool:
        repo = PostgresStatRepository(pool)
        async with repo.session() as s, s.transaction():
            pk = await s.upsert_session(SealedSession("+bench", 1, b"h", None))
            await s.upsert_channel(ChannelConfig(CHANNEL, "bench", SessionPk(pk)))


def main() -> None:
    exit_on_stop_signals()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--rows", type=at_least(1), default=100_000, help="posts upserted")
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    args = parser.parse_args()
    at = T0 + timedelta(days=1)
    posts = make_posts(args.rows, at)
    # the next cycle: every post again, observed 5 minutes later
    later = make_posts(args.rows, at + timedelta(minutes=5))
    with database_errors(parser, args.database_url), database(args.database_url) as url:
        migrate(url)
        asyncio.run(configure(url))
        baseline = raw_copy(url, posts, at)
        first = asyncio.run(adapter_upsert(url, posts, at))
        again = asyncio.run(adapter_upsert(url, later, at + timedelta(minutes=5)))
    n = len(posts)
    print(f"rows: {n} stat_post rows + {n} snapshots each")
    print(f"raw COPY (baseline)        {n / baseline:>10,.0f} rows/s  ({baseline:.2f} s)")
    for label, secs in (("adapter upsert, new rows", first), ("adapter upsert, existing", again)):
        print(f"{label:<27}{n / secs:>10,.0f} rows/s  ({secs:.2f} s)  ratio {baseline / secs:.2f}")


if __name__ == "__main__":
    main()
