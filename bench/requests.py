"""Benchmark: Telegram requests of a tgstat replay vs a naive scraper over the same channel.

Usage: python bench/requests.py [--history 10000] [--days 2] [--seed 1] [--database-url URL]
                                [--tracemalloc]

Generates a scenario (docs/scenario-format.md) in memory: ``--history`` posts published over the
~300 days before ``start`` (views, reactions, comments near their dates), then ``--days`` days
at 5-minute ticks with ~25 new posts a day whose views, reactions and comments grow during the
replay, and ~250 admin-log joins/leaves a day. tgstat replays it into a throwaway embedded
PostgreSQL (or a scratch database on the server of --database-url, dropped at the end) and the
replay gateway counts requests.
The naive scraper, computed from the same scenario, re-reads at every tick every visible post,
every comment thread of every visible post with a discussion, and the whole visible admin log,
at Telegram's page sizes. The figure that matters is the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import math
import random
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import (
    DATABASE_URL_HELP,
    HelpFormatter,
    at_least,
    database,
    database_errors,
    exit_on_stop_signals,
)
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import ADMIN_LOG_RETENTION, PAGE_SIZE, Scenario
from tgstat.app.database import open_pool
from tgstat.app.migrate import migrate
from tgstat.app.replay import ReplaySummary, replay

START = datetime(2026, 11, 1, tzinfo=UTC)
INTERVAL_S = 300
HISTORY_SPAN = timedelta(days=300)
NEW_POSTS_PER_DAY = 25
EVENTS_PER_DAY = 250
USERS = 5_000
EMOJIS = ("👍", "❤", "🔥", "😁", "🤔", "👎")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timeline(points: list[tuple[datetime, int]]) -> list[list[Any]]:
    return [[_iso(t), v] for t, v in points]


def _reactions(rng: random.Random, date: datetime, total: int, spread: timedelta) -> dict:
    """1-3 reaction keys, each growing to its share of ``total`` over ``spread``."""
    keys = rng.sample(EMOJIS, rng.randint(1, 3))
    if rng.random() < 0.1:
        keys.append(f"custom:{rng.randint(10**18, 9 * 10**18)}")
    if rng.random() < 0.05:
        keys.append("paid")
    out = {}
    for key in keys:
        final = max(1, int(total * rng.random()))
        steps = 4
        out[key] = _timeline(
            [(date + spread * (k / steps), max(1, final * k // steps)) for k in range(1, steps + 1)]
        )
    return out


def _author(rng: random.Random) -> dict[str, int]:
    if rng.random() < 0.05:
        return {"channel_id": rng.randint(1_000_000_000, 1_000_000_050)}
    return {"user_id": rng.randint(1, USERS)}


def _history_post(rng: random.Random, pid: int, date: datetime) -> tuple[dict, list]:
    final = rng.randint(200, 20_000)
    views = [
        (date, 0),
        (date + timedelta(hours=1), final // 4),
        (date + timedelta(hours=24), final * 3 // 4),
        (date + timedelta(days=7), final),
    ]
    post: dict[str, Any] = {
        "id": pid,
        "date": _iso(date),
        "text": f"history post {pid}",
        "media": rng.choice((None, None, "photo", "video", "document", "webpage")),
        "views": _timeline(views),
        "forwards": _timeline([(date + timedelta(hours=2), rng.randint(0, final // 200))]),
    }
    if rng.random() < 0.6:
        post["reactions"] = _reactions(rng, date, final // 50 + 1, timedelta(days=2))
    comments = []
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 20)):
            at = date + timedelta(seconds=rng.randint(60, 24 * 3600))
            comments.append((at, post))
    return post, comments


def _new_post(rng: random.Random, pid: int, date: datetime) -> tuple[dict, list]:
    final = rng.randint(500, 20_000)
    # views grow like final * (1 - e^(-t / 6 h)), a point every 30 min for 2 days
    views = [(date, 0)] + [
        (date + timedelta(minutes=30 * k), int(final * (1 - math.exp(-k / 12))))
        for k in range(1, 97)
    ]
    post: dict[str, Any] = {
        "id": pid,
        "date": _iso(date),
        "text": f"new post {pid}",
        "media": rng.choice((None, "photo", "video")),
        "views": _timeline(views),
        "forwards": _timeline(
            [(date + timedelta(hours=h), rng.randint(0, final // 300) * h) for h in (1, 6, 24)]
        ),
        "reactions": _reactions(rng, date, final // 40 + 1, timedelta(hours=rng.randint(2, 30))),
    }
    comments = []
    if rng.random() < 0.8:
        for _ in range(rng.randint(1, 40)):
            at = date + timedelta(seconds=int(rng.expovariate(1 / (3 * 3600))) + 30)
            comments.append((at, post))
    return post, comments


def _admin_log(rng: random.Random, start: datetime, end: datetime, n: int) -> list[dict]:
    span = (end - start).total_seconds()
    dates = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
    joined: set[int] = set()
    events = []
    for k, date in enumerate(dates):
        if joined and rng.random() < 0.35:
            uid = rng.choice(sorted(joined))
            joined.discard(uid)
            action = "leave"
        else:
            uid = rng.randint(1, USERS)
            while uid in joined:
                uid = rng.randint(1, USERS)
            joined.add(uid)
            action = rng.choice(("join", "join", "join_by_invite", "join_by_request", "invite"))
        events.append(
            {
                "id": 1_000_000 + 3 * k + rng.randint(0, 2),
                "date": _iso(date),
                "action": action,
                "user": {
                    "id": uid,
                    "first_name": f"User{uid}",
                    "last_name": None,
                    "username": f"user{uid}" if uid % 3 else None,
                    "premium": uid % 7 == 0,
                    "scam": False,
                    "verified": False,
                    "phone": None,
                },
            }
        )
    return events


def make_scenario(history: int, days: float, seed: int) -> dict[str, Any]:
    """A scenario dict in the docs/scenario-format.md format; deterministic for a seed."""
    rng = random.Random(seed)
    end = START + timedelta(days=days)
    oldest, newest = START - HISTORY_SPAN, START - timedelta(days=2)
    span = (newest - oldest).total_seconds()
    history_dates = sorted(
        oldest + timedelta(seconds=rng.randint(0, int(span))) for _ in range(history)
    )
    new_count = round(NEW_POSTS_PER_DAY * days)
    new_span = (end - START).total_seconds()
    new_dates = sorted(
        START + timedelta(seconds=rng.randint(0, int(new_span) - 1)) for _ in range(new_count)
    )
    posts, comments = [], []
    for pid, date in enumerate(history_dates, start=1):
        post, cs = _history_post(rng, pid, date)
        posts.append(post)
        comments += cs
    for pid, date in enumerate(new_dates, start=history + 1):
        post, cs = _new_post(rng, pid, date)
        posts.append(post)
        comments += cs
    # comment ids grow with time across the discussion group, as Telegram's do
    comments.sort(key=lambda c: (c[0], c[1]["id"]))
    for cid, (at, post) in enumerate(comments, start=1):
        post.setdefault("comments", []).append({"id": cid, "date": _iso(at), **_author(rng)})
    return {
        "channel": {"id": 1_987_654_321, "title": "Bench channel", "username": "bench_channel"},
        "start": _iso(START),
        "end": _iso(end),
        "interval_s": INTERVAL_S,
        "posts": posts,
        "admin_log": _admin_log(rng, START, end, round(EVENTS_PER_DAY * days)),
    }


def _pages(n: int) -> int:
    return max(1, math.ceil(n / PAGE_SIZE))


def naive_requests(scenario: Scenario, *, skip_empty_threads: bool = False) -> dict[str, int]:
    """Requests of a scraper that re-reads everything visible at every tick (no follow-ups).

    Per tick: history pages of 100 over the visible posts; per visible post with a discussion
    its whole comment thread (at least one request); the whole visible admin log. With
    ``skip_empty_threads`` it reads only threads with a visible comment (it would see the
    replies counter in the history page), a cheaper baseline.
    """
    posts = sorted(scenario.posts, key=lambda p: p.date)
    post_dates = [p.date for p in posts]
    threads = [sorted(c.date for c in p.comments) if p.discussion else None for p in posts]
    events = sorted(e.date for e in scenario.admin_log)
    out = {"posts": 0, "comments": 0, "admin_log": 0}
    for now in scenario.ticks():
        visible = bisect.bisect_right(post_dates, now)
        if visible:
            out["posts"] += math.ceil(visible / PAGE_SIZE)
        for thread in threads[:visible]:
            if thread is None:
                continue
            seen = (
                len(thread) if not thread or thread[-1] <= now else bisect.bisect_right(thread, now)
            )
            if seen or not skip_empty_threads:
                out["comments"] += _pages(seen)
        # visible: date <= now and now - date < 48 h, i.e. date > now - 48 h
        first = bisect.bisect_right(events, now - ADMIN_LOG_RETENTION)
        out["admin_log"] += _pages(bisect.bisect_right(events, now) - first)
    return out


async def run_replay(url: str, scenario: Scenario) -> ReplaySummary:
    async with open_pool(url, max_size=4) as pool:
        return await replay(scenario, PostgresStatRepository(pool))


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    exit_on_stop_signals()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--history", type=at_least(0), default=10_000, help="posts before start")
    parser.add_argument("--days", type=float, default=2, help="replayed days")
    parser.add_argument("--seed", type=int, default=1, help="of the generated scenario")
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also trace the peak of Python allocations during the replay (slows it down)",
    )
    args = parser.parse_args()

    built = time.perf_counter()
    scenario = Scenario.parse(make_scenario(args.history, args.days, args.seed))
    built = time.perf_counter() - built
    rss_before = _peak_rss_mb()
    ticks = len(scenario.ticks())
    comments = sum(len(p.comments) for p in scenario.posts)

    with database_errors(parser, args.database_url), database(args.database_url) as url:
        migrate(url)
        if args.tracemalloc:
            tracemalloc.start()
        start = time.perf_counter()
        summary = asyncio.run(run_replay(url, scenario))
        elapsed = time.perf_counter() - start
        traced_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        if args.tracemalloc:
            tracemalloc.stop()
    rss_after = _peak_rss_mb()

    naive_start = time.perf_counter()
    naive = naive_requests(scenario)
    lean = naive_requests(scenario, skip_empty_threads=True)
    naive_elapsed = time.perf_counter() - naive_start
    naive_total, lean_total = sum(naive.values()), sum(lean.values())

    print(
        f"scenario: {args.history} history posts, {len(scenario.posts) - args.history} new posts,"
        f" {comments} comments, {len(scenario.admin_log)} admin-log events,"
        f" {args.days:g} days at {INTERVAL_S} s = {ticks} ticks (built in {built:.1f} s)"
    )
    per_kind = ", ".join(f"{k} {v}" for k, v in sorted(summary.requests.items()))
    print(
        f"tgstat: {summary.runs} runs ({ticks} ticks + follow-ups, {summary.failed_runs} failed),"
        f" {summary.requests_total} requests ({per_kind}),"
        f" {summary.requests_total / summary.runs:.2f} per run"
    )
    naive_kinds = ", ".join(f"{k} {v}" for k, v in naive.items())
    print(
        f"naive:  {ticks} cycles, {naive_total} requests ({naive_kinds}),"
        f" {naive_total / ticks:.1f} per cycle"
    )
    print(
        f"naive, skipping empty threads: {lean_total} requests, {lean_total / ticks:.1f} per cycle"
        f" (computed in {naive_elapsed:.1f} s)"
    )
    ratio, lean_ratio = summary.requests_total / naive_total, summary.requests_total / lean_total
    print(
        f"ratio tgstat/naive: {ratio:.3%} (target < 1%: {'ok' if ratio < 0.01 else 'MISSED'});"
        f" vs the lean naive: {lean_ratio:.3%}"
    )
    print(
        f"tgstat replay wall time: {elapsed:.1f} s"
        f" (target < 120 s: {'ok' if elapsed < 120 else 'MISSED'})"
    )
    traced = "" if traced_peak is None else f"; traced Python peak {traced_peak / 2**20:.0f} MB"
    print(
        f"peak RSS: {rss_after:.0f} MB (after building the scenario: {rss_before:.0f} MB){traced}"
    )


if __name__ == "__main__":
    main()
