"""Benchmark: the daily lake ETL (run_etl) vs the reference design's per-file concat.

Usage: python bench/lake_etl.py [--updates 200000] [--reference-updates 10000]
                                [--memory-updates 50000] [--batch-size 5000] [--dir DIR]

One day of ``--updates`` raw update files (a group's mix: text, photos and albums with
captions, stickers, replies, forum topics, forwards, anonymous admins and automatic
forwards, edits, service messages, reactions, callback queries, member changes; ~84 %
message kinds) is generated into a temporary local lake, written straight into the store's
layout (no per-file fsync: the webhook's durability is not what is measured here). Then, in
the same run:

- read only: open and read every byte of the day's files, nothing else (the floor), once
  file by file and once through the store's own read path (listing, then 256 files opened
  at a time with ``posix_fadvise(WILLNEED)``, as ``run_etl`` reads);
- tgstat: ``run_etl`` on ``FsspecLakeStore``, the whole day -> one zstd Parquet file per
  table (``telegram``, 29 columns; ``telegram_event``), reported as a fraction of the
  read-only rate;
- reference (the AWS design): per file ``json.load``, a one-row ``pyarrow`` table (its 8
  columns),
  ``pa.concat_tables`` onto the day's table one by one, then one Parquet write. It slows
  down as the table grows (each concat touches every chunk so far), so it is measured on a
  prefix of the same files (``--reference-updates`` and half of it, to show the trend); its
  rate over a whole day would be lower still. The ratio uses its prefix rate, which flatters
  the reference; a whole-day time extrapolated from the two prefixes is printed apart.

Each side is measured warm (files in the page cache, as just written) and cold (this
benchmark's own files evicted with posix_fadvise(DONTNEED) after one sync; nothing else on
the machine is touched): a daily job usually reads yesterday's files cold.

Peak memory of ``run_etl`` is measured in fresh processes for a day of ``--memory-updates``
files and for the full day: peak RSS above the process's RSS before the run, the peak of
Python allocations (tracemalloc, a separate run as it slows everything), the part of that
peak which is the day's file-name listing alone, and Arrow's pool.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tgstat.adapters.fsspec_lake import SCHEMA, FsspecLakeStore
from tgstat.services.lake_etl import run_etl

REFERENCE_SCHEMA = pa.schema(list(SCHEMA)[:8])
"""The reference design's table: its 8 columns (tgstat's first 8)."""
DAY = date(2026, 11, 20)
SMALL_DAY = date(2026, 11, 21)
WORDS = [
    "the",
    "a",
    "lake",
    "bot",
    "group",
    "message",
    "hello",
    "привет",
    "👍",
    "data",
    "parquet",
    "sql",
    "день",
    "ok",
    "why",
    "when",
]


CHAT = {"id": -1001234567890, "type": "supergroup", "title": "Lake group", "is_forum": True}
CHANNEL = {"id": -1009876543210, "type": "channel", "title": "Lake channel"}
PLACEHOLDERS = [
    ({"id": 1087968824, "is_bot": True, "first_name": "Group"}, CHAT),
    ({"id": 777000, "is_bot": False, "first_name": "Telegram"}, CHANNEL),
]


def make_update(rng: random.Random, update_id: int, day: date) -> dict[str, Any]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    user_id = rng.randrange(1, 500)
    sender = {"id": user_id, "is_bot": user_id < 5, "first_name": f"User{user_id}"}
    if rng.random() < 0.5:
        sender |= {"username": f"user_{user_id}", "language_code": "en"}
    message: dict[str, Any] = {
        "message_id": update_id - 99_000_000,
        "from": sender,
        "chat": CHAT,
        "date": start + rng.randrange(86_400),
    }
    if rng.random() < 0.2:
        replied = {"message_id": message["message_id"] - 5, "date": message["date"] - 60}
        message["reply_to_message"] = replied | {"chat": CHAT, "from": sender, "text": "hi"}
    if rng.random() < 0.1:
        message |= {"message_thread_id": 7, "is_topic_message": True}
    text = " ".join(rng.choices(WORDS, k=rng.randrange(1, 40)))
    roll = rng.random()
    if roll < 0.58:
        message["text"] = text
    elif roll < 0.66:
        message["photo"] = [
            {"file_id": f"AgAC{i}{update_id}", "file_unique_id": f"AQ{i}", "width": w}
            for i, w in enumerate((90, 320, 1280))
        ]
        message["caption"] = text
        message["media_group_id"] = str(update_id // 3)
    elif roll < 0.70:
        message["sticker"] = {"file_id": "CAACAgIAAxkB", "emoji": "👍", "is_animated": False}
    elif roll < 0.72:
        message["from"], message["sender_chat"] = rng.choice(PLACEHOLDERS)
        message["text"] = text
        if message["sender_chat"] is CHANNEL:
            message["is_automatic_forward"] = True
            origin = {"type": "channel", "chat": CHANNEL, "message_id": 5, "date": start}
            message["forward_origin"] = origin
    elif roll < 0.74:
        message["text"] = text
        message["forward_origin"] = {"type": "user", "sender_user": sender, "date": start}
    elif roll < 0.81:
        message["text"] = text
        message["edit_date"] = message["date"] + 60
        return {"update_id": update_id, "edited_message": message}
    elif roll < 0.84:
        service = {
            "new_chat_members": [sender],
            "left_chat_member": sender,
            "pinned_message": {"message_id": 3, "date": start, "chat": CHAT},
        }
        field = rng.choice(list(service))
        message[field] = service[field]
    elif roll < 0.89:
        reaction = {"chat": CHAT, "message_id": 3, "user": sender, "date": message["date"]}
        reaction |= {"old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}
        return {"update_id": update_id, "message_reaction": reaction}
    elif roll < 0.97:
        query = {"id": str(update_id), "from": sender, "message": message, "data": "page:2"}
        message["text"] = text
        return {"update_id": update_id, "callback_query": query}
    else:
        member = {"status": "member", "user": sender}
        change = {"chat": CHAT, "from": sender, "date": message["date"]}
        change |= {"old_chat_member": member | {"status": "left"}, "new_chat_member": member}
        return {"update_id": update_id, "chat_member": change}
    return {"update_id": update_id, "message": message}


def generate(root: Path, day: date, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    directory = root / "raw" / "telegram" / f"context_date={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        update_id = 100_000_000 + i  # same digit count: name order is id order
        body = json.dumps(make_update(rng, update_id, day), ensure_ascii=False)
        (directory / f"{update_id}.json").write_bytes(body.encode())
    return directory


def reference(paths: Sequence[Path], out: Path) -> int:
    """The reference design's loop; returns the rows written."""
    table = None
    for path in paths:
        with path.open() as f:
            update = json.load(f)
        message = update.get("message")
        if message is None:
            continue
        sender = message.get("from", {})
        row = {
            "message_id": message["message_id"],
            "user_id": sender.get("id"),
            "user_is_bot": sender.get("is_bot"),
            "user_first_name": sender.get("first_name"),
            "chat_id": message["chat"]["id"],
            "chat_type": message["chat"]["type"],
            "text": message.get("text"),
            "date": message["date"],
        }
        one = pa.Table.from_pylist([row], schema=REFERENCE_SCHEMA)
        table = one if table is None else pa.concat_tables([table, one])
    assert table is not None
    pq.write_table(table, out, compression="zstd")
    return table.num_rows


def evict(paths: Sequence[Path]) -> None:
    """Drop these files from the page cache (they were synced: their pages are clean)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed_etl(store: FsspecLakeStore, batch_size: int) -> tuple[float, Any]:
    start = time.perf_counter()
    report = run_etl(store, DAY, batch_size=batch_size)
    return time.perf_counter() - start, report


def timed_read(paths: Sequence[Path]) -> float:
    """Open and read every byte of ``paths``, one by one: the floor of any ETL."""
    start = time.perf_counter()
    total = 0
    for path in paths:
        with path.open("rb") as f:
            total += len(f.read())
    assert total > 0
    return time.perf_counter() - start


def timed_store_read(store: FsspecLakeStore) -> float:
    """List the day and read every byte through the store, as run_etl does (256 files
    opened at a time with WILLNEED): the floor of this ETL's own read path."""
    start = time.perf_counter()
    total = sum(len(body) for _, body in store.read_raw(DAY, store.raw_names(DAY)))
    assert total > 0
    return time.perf_counter() - start


def timed_reference(paths: Sequence[Path], out: Path) -> float:
    start = time.perf_counter()
    reference(paths, out)
    return time.perf_counter() - start


def status_kib(field: str) -> int:
    """VmRSS (resident now) or VmHWM (its peak) of this process, from /proc (Linux).

    Not ru_maxrss: that survives fork + exec, so a child would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_memory(root: str, day: str, trace: bool, batch_size: int) -> dict[str, Any]:
    """In this (fresh) process: one run_etl of the day, and what it held at its peak."""
    store = FsspecLakeStore(root)
    before = status_kib("VmRSS")
    if trace:
        tracemalloc.start()
    report = run_etl(store, date.fromisoformat(day), batch_size=batch_size)
    result: dict[str, Any] = {"files": report.files}
    if trace:
        result["python_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        names = store.raw_names(date.fromisoformat(day))
        result["listing_mib"] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
        del names
    else:
        result["rss_delta_mib"] = (status_kib("VmHWM") - before) / 1024
        result["arrow_peak_mib"] = pa.default_memory_pool().max_memory() / 2**20
    return result


def memory_in_child(root: Path, day: date, trace: bool, batch_size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(root), day.isoformat(), str(batch_size)]
    done = subprocess.run(
        [*cmd, "--trace"] if trace else cmd, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def line(label: str, n: int, seconds: float, extra: str = "") -> None:
    print(f"{label:<46}{n:>9,}{n / seconds:>12,.0f}{seconds:>9.2f}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--reference-updates", type=int, default=10_000)
    parser.add_argument("--memory-updates", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--dir", help="where to create the temporary lake (default: $TMPDIR)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        root, day, batch = args.child
        print(json.dumps(measure_memory(root, day, args.trace, int(batch))))
        return

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="lake-bench-") as tmp:
        root = Path(tmp) / "lake"
        start = time.perf_counter()
        raw = sorted(generate(root, DAY, args.updates, seed=1).iterdir())
        generate(root, SMALL_DAY, args.memory_updates, seed=2)
        os.sync()  # clean pages can be evicted for the cold runs; no writeback during runs
        print(
            f"generated {args.updates:,} + {args.memory_updates:,} raw files"
            f" in {time.perf_counter() - start:.1f} s under {root}"
        )
        store = FsspecLakeStore(str(root))
        read_warm = min(timed_read(raw) for _ in range(2))
        store_warm = min(timed_store_read(store) for _ in range(2))
        warm = [timed_etl(store, args.batch_size)[0] for _ in range(2)]
        evict(raw)
        read_cold = timed_read(raw)
        evict(raw)
        store_cold = timed_store_read(store)
        evict(raw)
        cold, report = timed_etl(store, args.batch_size)
        assert report.paths is not None
        size = Path(report.paths.messages).stat().st_size
        events_size = Path(report.paths.events).stat().st_size
        print(
            f"day: {report.files:,} files -> {report.messages:,} telegram rows"
            f" ({size / 2**20:.1f} MiB), {report.events:,} telegram_event rows"
            f" ({events_size / 2**20:.1f} MiB); kinds {dict(report.kinds)}"
        )

        prefix = raw[: args.reference_updates]
        half = prefix[: len(prefix) // 2]
        out = Path(tmp) / "reference.parquet"
        ref_half = timed_reference(half, out)
        ref_warm = timed_reference(prefix, out)
        evict(prefix)
        ref_cold = timed_reference(prefix, out)

        n, k = report.files, len(prefix)
        print()
        print(f"{'':<46}{'updates':>9}{'updates/s':>12}{'seconds':>9}")
        runs = ", ".join(f"{r:.2f}" for r in warm)
        line("read only (open + read), whole day, warm", n, read_warm)
        line("read only (open + read), whole day, cold", n, read_cold)
        line("read only, the store's read path, warm", n, store_warm)
        line("read only, the store's read path, cold", n, store_cold)
        line("tgstat run_etl, whole day, warm (best of 2)", n, min(warm), f"   runs: {runs}")
        line("tgstat run_etl, whole day, cold", n, cold)
        line(f"reference, first {len(half):,} files only, warm", len(half), ref_half)
        line(f"reference, first {k:,} files only, warm", k, ref_warm)
        line(f"reference, first {k:,} files only, cold", k, ref_cold)
        print(
            f"tgstat as a fraction of read only (open + read): warm {read_warm / min(warm):.2f},"
            f" cold {read_cold / cold:.2f}; of the store's read path: warm"
            f" {store_warm / min(warm):.2f}, cold {store_cold / cold:.2f}"
        )
        print(
            f"ratio (reference on its first {k:,} files only): warm"
            f" {(n / min(warm)) / (k / ref_warm):,.1f}x, cold {(n / cold) / (k / ref_cold):,.1f}x"
        )
        quadratic = (ref_warm / k - ref_half / len(half)) / (k - len(half))
        linear = ref_half / len(half) - quadratic * len(half)
        whole = linear * n + quadratic * n**2  # t(n) = linear*n + quadratic*n^2
        print(
            f"reference over the whole day, extrapolated through its two warm prefixes"
            f" (not measured): {whole / 60:,.1f} min, {whole / min(warm):,.0f}x tgstat's time"
        )

        print()
        print(f"peak memory of run_etl, fresh process each, batch {args.batch_size:,}")
        print(
            f"{'files':>9}{'RSS delta MiB':>15}{'Arrow pool MiB':>16}"
            f"{'Python peak MiB':>17}{'name listing MiB':>18}"
        )
        for day in (SMALL_DAY, DAY):
            rss = memory_in_child(root, day, trace=False, batch_size=args.batch_size)
            heap = memory_in_child(root, day, trace=True, batch_size=args.batch_size)
            print(
                f"{rss['files']:>9,}{rss['rss_delta_mib']:>15.1f}{rss['arrow_peak_mib']:>16.1f}"
                f"{heap['python_peak_mib']:>17.1f}{heap['listing_mib']:>18.1f}"
            )
        print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, pyarrow {pa.__version__}")


if __name__ == "__main__":
    main()
