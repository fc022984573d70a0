"""Benchmark: how tgstat's cost grows with channels and accounts (issue 15).

Usage: python bench/scale.py [--channels 100 | --channels 10,100,1000] [--accounts M]
                             [--per-account 25] [--hours 24] [--history 300] [--concurrency 4]
                             [--pool-size 8] [--seed 1] [--database-url URL] [--profile FILE]

N channels (bench/_activity.py: realistic posting, albums, deletions, comments, reactions,
joins and leaves), each answered by its own replay gateway, spread over M accounts (default
N/25 rounded up: each account's channels share its client and its Telegram rate limit).
Everything else is the served code path: ``collect_many`` with its concurrency, the real
PostgreSQL repository over a throwaway embedded server (or a scratch database on the server of
--database-url, dropped at the end), real migrations.
The clock is simulated: first a warm-up run at ``start`` (every channel's history load, not
in the figures), then a round of every channel every 5 minutes for ``--hours``, and each
follow-up run the Scheduler port was handed at its instant, as served: a run per session and
minute is ``followup_many`` over the session's channels; a run per follow-up (before issue
15) a whole cycle of its channel. 1,000 channels: ``--hours 1`` (about 10 minutes on an idle
2-core machine; a day of 100 channels takes about as long).

Per-day figures are the simulated span's counts x 24 h / span (posting is uniform over the
day; a span under an hour may hold no follow-up at all: a warning says so). Several sizes run
one subprocess each (clean peak memory) and end with the log-log slope of each cost from the
smallest size to the largest. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import pstats
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _activity import channel_scenario
from _common import (
    DATABASE_URL_HELP,
    HelpFormatter,
    ServerProcesses,
    at_least,
    database_and_server,
    database_errors,
    exit_on_stop_signals,
    peak_rss_mb,
    slope,
)
from _fleet import AccountGateway, CountingScheduler, PlannedRun, per_day
from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.adapters.replay import ReplayGateway, Scenario, SimClock
from tgstat.app.collection import collect_many

try:
    from tgstat.app.collection import followup_many
except ImportError:  # before follow-ups were coalesced: every run is a whole cycle
    followup_many = None
from tgstat.app.database import open_pool
from tgstat.app.migrate import migrate
from tgstat.domain.ids import ChannelId, SessionPk
from tgstat.domain.model import ChannelConfig, SealedSession, SessionStatus
from tgstat.ports.gateway import TelegramGateway
from tgstat.services.measure import CollectPolicy

START = datetime(2026, 11, 2, tzinfo=UTC)
MAX_HOURS = 24 * 14
INTERVAL = timedelta(minutes=5)
ROUNDS_PER_DAY = timedelta(days=1) // INTERVAL
FIRST_CHANNEL = 1_500_000_000


class Fleet:
    """The channels, their accounts and the simulated clock they all answer on."""

    def __init__(self, scenarios: Sequence[Scenario], accounts: int) -> None:
        self.clock = SimClock(START)
        self.scenarios = scenarios
        by_account: list[dict[ChannelId, ReplayGateway]] = [{} for _ in range(accounts)]
        for k, sc in enumerate(scenarios):
            by_account[k % accounts][sc.channel.id] = ReplayGateway(sc, self.clock)
        self.accounts = [AccountGateway(g) for g in by_account]
        self.account_of: dict[SessionPk, AccountGateway] = {}
        self.channels: list[ChannelConfig] = []

    async def register(self, repository: PostgresStatRepository) -> None:
        """One session row per account, its channels configured on it."""
        async with repository.session() as s, s.transaction():
            for k, account in enumerate(self.accounts):
                pk = await s.upsert_session(
                    SealedSession(f"bench:{k}", 1, b"bench", None, SessionStatus.ENABLED)
                )
                self.account_of[SessionPk(pk)] = account
                for sc in self.scenarios:
                    if sc.channel.id in account._gateways:
                        ch = sc.channel
                        await s.upsert_channel(ChannelConfig(ch.id, ch.title, pk, ch.username))
        async with repository.session() as s:
            self.channels = list(await s.list_channels())

    def source(
        self, channel: ChannelConfig
    ) -> AbstractAsyncContextManager[tuple[TelegramGateway, SessionPk]]:
        @asynccontextmanager
        async def lease() -> Any:
            yield self.account_of[channel.session_pk], channel.session_pk

        return lease()

    def channels_of(self, session_pk: SessionPk) -> list[ChannelConfig]:
        return [c for c in self.channels if c.session_pk == session_pk]

    def requests(self) -> list[int]:
        return [sum(a.request_counts().values()) for a in self.accounts]

    def gateway_cpu_s(self) -> float:
        return sum(a.cpu_s for a in self.accounts)


class Meter:
    """CPU (this process, the replay stand-in apart, and PostgreSQL's) and wall time of runs."""

    def __init__(self, fleet: Fleet, server: ServerProcesses | None) -> None:
        self.fleet, self.server = fleet, server
        self.totals: dict[str, dict[str, float]] = {}
        self.walls: dict[str, list[float]] = {}
        self.cpus: dict[str, list[tuple[float, int]]] = {}
        """Per run: CPU seconds (tgstat and PostgreSQL), channel-cycles."""

    def _read(self) -> dict[str, float]:
        return {
            "wall": time.perf_counter(),
            "own": time.process_time(),
            "gateway": self.fleet.gateway_cpu_s(),
            "pg": self.server.cpu_s() if self.server else 0.0,
            "requests": sum(self.fleet.requests()),
        }

    async def run(self, kind: str, work: Callable[[], Awaitable[list[Any]]]) -> list[Any]:
        """Runs ``work`` (collections; a list of outcomes, one per channel-cycle) and adds
        what it cost to ``kind``."""
        before = self._read()
        outcomes = await work()
        after = self._read()
        total = self.totals.setdefault(kind, dict.fromkeys((*before, "cycles", "failed"), 0.0))
        for key in before:
            total[key] += after[key] - before[key]
        total["cycles"] += len(outcomes)
        total["failed"] += sum(o.status != "collected" for o in outcomes)
        self.walls.setdefault(kind, []).append(after["wall"] - before["wall"])
        cpu = (
            sum(after[k] - before[k] for k in ("own", "pg")) - after["gateway"] + before["gateway"]
        )
        self.cpus.setdefault(kind, []).append((cpu, len(outcomes)))
        return list(outcomes)


async def simulate(args: argparse.Namespace, fleet: Fleet, url: str, pgdata: Path | None) -> dict:
    server = ServerProcesses(pgdata) if pgdata else None
    end = START + timedelta(hours=args.hours)
    async with open_pool(url, max_size=args.pool_size) as pool:
        repository = PostgresStatRepository(pool)
        await fleet.register(repository)
        scheduler = CountingScheduler()
        meter = Meter(fleet, server)

        async def collect(channels: Sequence[ChannelConfig]) -> list[Any]:
            return await collect_many(
                channels,
                repository=repository,
                scheduler=scheduler,
                source=fleet.source,
                concurrency=args.concurrency,
                clock=lambda: fleet.clock.now,
                policy=CollectPolicy(snapshot_unchanged=args.snapshot_unchanged),
            )

        async def followups(runs: Sequence[PlannedRun]) -> list[Any]:
            """Each run as served: one per follow-up (a whole cycle of its channel), or one
            per session and minute (``followup_many`` over the session's channels)."""
            single = {c for r in runs if r.session_pk is None for c in r.channel_ids}
            outcomes = await collect([c for c in fleet.channels if c.channel_id in single])
            coalesced = [r for r in runs if r.session_pk is not None]
            for done in await asyncio.gather(
                *(
                    followup_many(
                        fleet.channels_of(r.session_pk),
                        repository=repository,
                        source=fleet.source,
                        concurrency=args.concurrency,
                        due_by=r.due_by,
                        clock=lambda: fleet.clock.now,
                    )
                    for r in coalesced
                )
            ):
                outcomes += done
            return outcomes

        await meter.run("warmup", lambda: collect(fleet.channels))  # at START: history load
        requests_after_warmup = fleet.requests()
        size_after_warmup = await _database_mb(repository)
        profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not wall
        pg_memory = [server.memory_mb() if server else (0.0, 0.0)]
        busiest_window, window_start = 0, fleet.requests()
        tick = START + INTERVAL
        while True:
            due = scheduler.next_due()
            now = min(tick, due) if due is not None else tick
            if now > end:
                break
            fleet.clock.now = now
            runs = scheduler.pop_due(now)
            if now == tick:
                if profile:
                    profile.enable()
                await meter.run("round", lambda: collect(fleet.channels))
                if profile:
                    profile.disable()
                tick += INTERVAL
                window_end = fleet.requests()
                busiest_window = max(
                    busiest_window, *(b - a for a, b in zip(window_start, window_end, strict=True))
                )
                window_start = window_end
                if server and len(meter.walls["round"]) % 12 == 1:
                    pg_memory.append(server.memory_mb())
            if runs:
                await meter.run("followup", lambda runs=runs: followups(runs))
        if server:
            pg_memory.append(server.memory_mb())
        items = await _followup_items(repository, START, end)
        size_at_end = await _database_mb(repository)
        tables = await _largest_tables(repository)
    if profile:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    span = end - START
    counts = {"runs": scheduler.count(START, end), **items}
    return {
        **_figures(
            args,
            fleet,
            meter,
            span,
            counts,
            requests_after_warmup,
            busiest_window,
            pg_memory,
            (size_after_warmup, size_at_end),
        ),
        "largest_tables_mb": tables,
    }


async def _followup_items(
    repository: PostgresStatRepository, after: datetime, until: datetime
) -> dict[str, int]:
    """Follow-ups (publication x horizon: one uncoalesced run each) due in (after, until],
    and their distinct (session, minute) pairs, from ``stat_followup``."""
    async with repository._pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*), count(DISTINCT (c.config__tg_bot_session_pool_pk,"
            " date_trunc('minute', f.due_at)))"
            " FROM stat_followup f JOIN config__tg_channel c USING (tg_channel_id)"
            " WHERE f.due_at > %s AND f.due_at <= %s",
            (after, until),
        )
        row = await cur.fetchone()
    assert row is not None
    return {"items": int(row[0]), "session_minutes": int(row[1])}


async def _database_mb(repository: PostgresStatRepository) -> float:
    async with repository._pool.connection() as conn:
        cur = await conn.execute("SELECT pg_database_size(current_database())")
        row = await cur.fetchone()
    return float(row[0]) / 2**20 if row else 0.0


async def _largest_tables(repository: PostgresStatRepository) -> dict[str, float]:
    """The three largest tables, indexes included, in MB."""
    async with repository._pool.connection() as conn:
        cur = await conn.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            " ORDER BY 2 DESC LIMIT 3"
        )
        return {str(name): round(size / 2**20, 1) for name, size in await cur.fetchall()}


def _figures(
    args: argparse.Namespace,
    fleet: Fleet,
    meter: Meter,
    span: timedelta,
    counts: dict[str, int],
    requests_after_warmup: list[int],
    busiest_window: int,
    pg_memory: list[tuple[float, float]],
    sizes: tuple[float, float],
) -> dict[str, Any]:
    n, m = len(fleet.channels), len(fleet.accounts)
    minutes = span / timedelta(minutes=1)
    rounds, warm = meter.totals["round"], meter.totals["warmup"]
    follow = meter.totals.get("followup", dict.fromkeys(rounds, 0.0))

    def per_cycle_ms(total: dict[str, float], key: str) -> float:
        return round(1000 * total[key] / total["cycles"], 2) if total["cycles"] else 0.0

    own = {k: {**t, "own": t["own"] - t["gateway"]} for k, t in meter.totals.items()}
    tgstat_ms, pg_ms = per_cycle_ms(own["round"], "own"), per_cycle_ms(rounds, "pg")
    spent = [b - a for a, b in zip(requests_after_warmup, fleet.requests(), strict=True)]
    followup_cpu_s = follow["own"] - follow["gateway"] + follow["pg"]
    day_cpu_s = (tgstat_ms + pg_ms) / 1000 * n * ROUNDS_PER_DAY + per_day(followup_cpu_s, span)
    walls = sorted(meter.walls["round"])
    return {
        "channels": n,
        "accounts": m,
        "cpu_ms_per_channel_cycle": round(tgstat_ms + pg_ms, 2),
        "round_wall_s": round(statistics.fmean(walls), 3),
        "requests_per_account_minute": round(sum(spent) / m / minutes, 3),
        "flow_runs_per_day": round(ROUNDS_PER_DAY + per_day(counts["runs"], span)),
        "flow_runs_per_day_uncoalesced": round(ROUNDS_PER_DAY + per_day(counts["items"], span)),
        "peak_rss_mb": round(peak_rss_mb()),
        "tgstat_cpu_ms_per_channel_cycle": tgstat_ms,
        "pg_cpu_ms_per_channel_cycle": pg_ms,
        "replay_gateway_cpu_ms_per_channel_cycle": per_cycle_ms(rounds, "gateway"),
        "cpu_cores_busy": round(day_cpu_s / 86_400, 4),
        "round_wall_s_p95": round(walls[min(len(walls) - 1, int(0.95 * len(walls)))], 3),
        "round_wall_s_max": round(walls[-1], 3),
        "requests_per_account_minute_max": round(max(spent) / minutes, 3),
        "requests_per_account_minute_peak_5min": round(busiest_window / 5, 3),
        "requests_per_channel_cycle": round(rounds["requests"] / rounds["cycles"], 3),
        "interval_runs_per_day": ROUNDS_PER_DAY,
        "followup_runs_per_day": round(per_day(counts["runs"], span)),
        "followup_items_per_day": round(per_day(counts["items"], span)),
        "followup_session_minutes_per_day": round(per_day(counts["session_minutes"], span)),
        "followup_channel_cycles_per_day": round(per_day(follow["cycles"], span)),
        "followup_cpu_ms_per_channel_cycle": round(
            1000 * followup_cpu_s / follow["cycles"] if follow["cycles"] else 0.0, 2
        ),
        "followup_wall_s_mean": round(statistics.fmean(meter.walls.get("followup", [0.0])), 3),
        "cpu_ms_per_channel_cycle_first_hour": _hourly_ms(meter.cpus["round"][:12]),
        "cpu_ms_per_channel_cycle_last_hour": _hourly_ms(meter.cpus["round"][-12:]),
        "followup_requests_per_run": round(follow["requests"] / max(1, counts["runs"]), 3),
        "failed_cycles": int(sum(t["failed"] for t in meter.totals.values())),
        "pg_peak_rss_mb": round(max(r for r, _ in pg_memory)),
        "pg_peak_pss_mb": round(max(p for _, p in pg_memory)),
        "database_mb_per_channel_day": round(per_day(sizes[1] - sizes[0], span) / n, 3),
        "warmup_wall_s": round(meter.walls["warmup"][0], 1),
        "warmup_cpu_s": round(own["warmup"]["own"] + warm["pg"], 1),
        "warmup_requests_per_account": round(sum(requests_after_warmup) / m),
        "simulated_hours": span / timedelta(hours=1),
        "measured_rounds": len(walls),
        "history_posts_per_channel": args.history,
        "concurrency": args.concurrency,
        "pool_size": args.pool_size,
    }


def _hourly_ms(rounds: list[tuple[float, int]]) -> float:
    return round(1000 * sum(c for c, _ in rounds) / max(1, sum(n for _, n in rounds)), 2)


def one_size(args: argparse.Namespace, n: int) -> dict[str, Any]:
    accounts = args.accounts or math.ceil(n / args.per_account)
    end = START + timedelta(hours=args.hours)
    built = time.perf_counter()
    scenarios = [
        Scenario.parse(channel_scenario(args.seed, FIRST_CHANNEL + k, START, end, args.history))
        for k in range(n)
    ]
    fleet = Fleet(scenarios, accounts)
    built = time.perf_counter() - built
    baseline = peak_rss_mb()
    posts = sum(len(sc.posts) for sc in scenarios)
    print(
        f"{n} channels on {accounts} accounts: {posts} scripted posts, built in {built:.1f} s;"
        f" simulating {args.hours:g} h of 5-minute rounds after the history load",
        flush=True,
    )
    with database_and_server(args.database_url) as (url, pgdata):
        migrate(url)
        figures = asyncio.run(simulate(args, fleet, url, pgdata))
    figures["rss_after_scenarios_mb"] = round(baseline)
    figures["rss_growth_mb"] = round(figures["peak_rss_mb"] - baseline)
    return figures


def _report(f: dict[str, Any]) -> None:
    print(
        f"  CPU per channel-cycle {f['cpu_ms_per_channel_cycle']} ms (tgstat"
        f" {f['tgstat_cpu_ms_per_channel_cycle']}, PostgreSQL {f['pg_cpu_ms_per_channel_cycle']};"
        f" the replay stand-in for Telegram {f['replay_gateway_cpu_ms_per_channel_cycle']} apart),"
        f" {f['cpu_cores_busy']:.3f} cores busy all day\n"
        f"  round wall {f['round_wall_s']} s (p95 {f['round_wall_s_p95']}, max"
        f" {f['round_wall_s_max']}) over {f['measured_rounds']} rounds;"
        f" {f['requests_per_account_minute']} requests/account/min (busiest account"
        f" {f['requests_per_account_minute_max']}, busiest 5 min"
        f" {f['requests_per_account_minute_peak_5min']})\n"
        f"  flow runs/day {f['flow_runs_per_day']} ({f['followup_runs_per_day']} follow-ups),"
        f" uncoalesced {f['flow_runs_per_day_uncoalesced']}; distinct (session, minute)"
        f" follow-up pairs/day {f['followup_session_minutes_per_day']}\n"
        f"  peak RSS {f['peak_rss_mb']} MB ({f['rss_after_scenarios_mb']} MB after building the"
        f" scenarios), PostgreSQL PSS {f['pg_peak_pss_mb']} MB; warm-up (history load)"
        f" {f['warmup_wall_s']} s; {f['failed_cycles']} failed cycles",
        flush=True,
    )


GROWING = (
    ("cpu_per_round", lambda f: f["cpu_ms_per_channel_cycle"] * f["channels"]),
    ("tgstat_cpu_per_round", lambda f: f["tgstat_cpu_ms_per_channel_cycle"] * f["channels"]),
    ("pg_cpu_per_round", lambda f: f["pg_cpu_ms_per_channel_cycle"] * f["channels"]),
    ("round_wall_s", lambda f: f["round_wall_s"]),
    ("requests_per_minute", lambda f: f["requests_per_account_minute"] * f["accounts"]),
    ("flow_runs_per_day", lambda f: f["flow_runs_per_day"]),
    ("followup_runs_per_day", lambda f: f["followup_runs_per_day"]),
    ("peak_rss_mb", lambda f: f["peak_rss_mb"]),
    ("rss_growth_mb", lambda f: max(1, f["rss_growth_mb"])),
    ("pg_peak_pss_mb", lambda f: f["pg_peak_pss_mb"]),
)


def several(args: argparse.Namespace, sizes: list[int]) -> dict[str, Any]:
    runs = []
    for n in sizes:
        argv = [sys.executable, __file__, "--child", "--channels", str(n)]
        for name in ("per_account", "hours", "history", "concurrency", "pool_size", "seed"):
            argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        if args.database_url:
            argv += ["--database-url", args.database_url]
        if args.snapshot_unchanged:
            argv.append("--snapshot-unchanged")
        out = _child(argv)
        print(out.rstrip(), flush=True)
        runs.append(json.loads(out.strip().splitlines()[-1]))
    small, large = runs[0], runs[-1]
    growth = {
        name: None if e is None else round(e, 3)
        for name, cost in GROWING
        for e in (slope(small["channels"], cost(small), large["channels"], cost(large)),)
    }
    return {**large, "sizes": runs, "growth_exponent": growth}


def _child(argv: list[str]) -> str:
    """The output of one size's run; a failed size ends this run with its exit status.

    The child has a session of its own (a terminal's Ctrl-C reaches this process only): on
    Ctrl-C or SIGTERM here it gets SIGTERM and is waited for, so its embedded PostgreSQL
    stops and its scratch database goes before this process exits."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate()
    except BaseException:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    if proc.returncode:
        print(out.rstrip(), flush=True)
        raise SystemExit(proc.returncode if proc.returncode > 0 else 128 - proc.returncode)
    return out


def _sizes(text: str) -> list[int]:
    """``N`` or ``N1,N2,...``: distinct positive channel counts, ascending."""
    sizes = sorted({at_least(1)(x.strip()) for x in text.split(",")})
    if not sizes:
        raise argparse.ArgumentTypeError("no size")
    return sizes


def main() -> None:
    exit_on_stop_signals()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--channels", type=_sizes, default="100", help="N, or sizes: 10,100,1000")
    parser.add_argument(
        "--accounts", type=at_least(1), help="default: channels / --per-account, rounded up"
    )
    parser.add_argument("--per-account", type=at_least(1), default=25, help="channels per account")
    parser.add_argument(
        "--hours",
        type=at_least(0.25, float, MAX_HOURS),
        default=24,
        help=f"simulated hours after warm-up, 0.25 to {MAX_HOURS}",
    )
    parser.add_argument("--history", type=at_least(0), default=300, help="old posts per channel")
    parser.add_argument(
        "--concurrency", type=at_least(1), default=4, help="TGSTAT_COLLECT_CONCURRENCY"
    )
    parser.add_argument("--pool-size", type=at_least(1), default=8, help="TGSTAT_DB_POOL_SIZE")
    parser.add_argument("--seed", type=int, default=1, help="of the generated channels")
    parser.add_argument(
        "--snapshot-unchanged",
        action="store_true",
        help="baseline: snapshot every rotation read, changed or not (as before)",
    )
    parser.add_argument("--database-url", help=DATABASE_URL_HELP)
    parser.add_argument(
        "--profile", help="cProfile the measured rounds into this file (one size only)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # several()
    args = parser.parse_args()
    sizes: list[int] = args.channels
    if args.profile is not None and not Path(args.profile).resolve().parent.is_dir():
        parser.error(f"--profile {args.profile}: no directory {Path(args.profile).parent}")
    if args.profile is not None and len(sizes) > 1:
        parser.error("--profile profiles one size: give --channels one N")
    if args.accounts is not None and args.accounts > sizes[-1]:
        parser.error(f"--accounts {args.accounts} is more than the {sizes[-1]} channels")
    if len(sizes) > 1 and args.accounts:
        parser.error("--accounts fixes one size: use --per-account with several")
    if args.hours < 1 and not args.child:
        print(
            f"{parser.prog}: warning: --hours {args.hours:g} is under an hour: per-day figures"
            " extrapolate from a span that may hold no follow-up (0 follow-ups x 24 h / span)",
            file=sys.stderr,
            flush=True,
        )
    with database_errors(parser, args.database_url):
        if len(sizes) > 1:
            figures = several(args, sizes)
            print(
                f"growth exponents {sizes[0]} -> {sizes[-1]} channels: {figures['growth_exponent']}"
            )
        else:
            figures = one_size(args, sizes[0])
            _report(figures)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
