"""Benchmark: the lake webhook's sustained requests/s on loopback with durable writes.

Usage: python bench/webhook.py [--requests 5000] [--concurrency 32] [--max-seconds 60]
                               [--root DIR]

Each phase starts uvicorn in a child process on a loopback port and drives ``--requests``
POSTs with distinct update_ids (~500-byte message updates with non-ASCII text) from
``--concurrency`` httpx clients, one keep-alive connection each, stopping early after
``--max-seconds``. Phases, same requests each:

- ``trivial``: a Starlette endpoint that reads the body and answers 200 (the HTTP floor);
- ``no-disk``: the real webhook app over an in-memory store (secret check, JSON parse,
  update_id check, thread hop), to separate the app's own cost from the disk's;
- ``durable``: the real webhook over FsspecLakeStore in a temporary directory (or
  ``--root``): temp file, fsync, link, fsync of the directory, before each 200.

After ``durable`` it proves nothing acknowledged was lost: the files on disk are exactly the
update_ids answered 200, each file's bytes equal the body sent, and no temp file remains.
Client and server share this machine's CPUs, so the absolute figures are a lower bound; the
ratios are what the benchmark is for. The CPU seconds of each side show which one limits.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tgstat.adapters.fsspec_lake import FsspecLakeStore
from tgstat.adapters.starlette_webhook import SECRET_HEADER, create_app
from tgstat.ports.lake import LakeStore

SECRET = "bench-secret-token"
PATH = "/telegram/webhook"
START = int(datetime(2026, 11, 1, 9, 0, tzinfo=UTC).timestamp())
PHASES = ("trivial", "no-disk", "durable")


def body(update_id: int) -> bytes:
    """The request body for ``update_id``; deterministic, so the check can rebuild it."""
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": 1000 + update_id % 500, "is_bot": False, "first_name": "Zoë"},
            "chat": {"id": -1001234567890, "type": "supergroup", "title": "Группа тестов"},
            "date": START + update_id,
            "text": f"message {update_id}: привет, 世界 👋 " + "lorem ipsum " * 20,
        },
    }
    return json.dumps(update, ensure_ascii=False).encode()


class MemoryStore:
    """put_raw into a dict: the webhook without the disk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[int, bytes] = {}

    def put_raw(self, day: object, update_id: int, body: bytes) -> bool:
        with self._lock:
            return self._bodies.setdefault(update_id, body) is body


def _app(phase: str, root: str) -> Starlette:
    if phase == "trivial":

        async def ok(request: Request) -> JSONResponse:
            await request.body()
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route(PATH, ok, methods=["POST"])])
    # the app only calls put_raw, all MemoryStore has of the port
    store = FsspecLakeStore(root) if phase == "durable" else cast(LakeStore, MemoryStore())
    return create_app(store, secret_token=SECRET, zone=UTC, chat_ids=None)


def _serve(phase: str, root: str, port: int) -> None:
    app = _app(phase, root)
    app.add_route("/healthz", lambda request: JSONResponse({"ok": True}), methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(phase: str, root: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", phase, "--root", root, "--port", str(port)]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return child, url
        except httpx.TransportError:
            time.sleep(0.05)
    child.kill()
    raise SystemExit(f"the {phase} server did not start")


async def _drive(
    url: str, count: int, concurrency: int, max_seconds: float, first_id: int
) -> tuple[float, float, list[float], dict[int, int]]:
    """(elapsed s, client CPU s, latencies s, update_id -> status) for up to ``count``."""
    ids = iter(range(first_id, first_id + count))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {SECRET_HEADER: SECRET, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=url, limits=limits) for _ in range(concurrency)]
    for client in clients:  # open the connections before the clock starts
        await client.get("/healthz")
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        for update_id in ids:
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            try:
                response = await client.post(PATH, content=body(update_id), headers=headers)
                statuses[update_id] = response.status_code
            except httpx.TransportError:
                statuses[update_id] = 0
            latencies.append(time.perf_counter() - sent)

    cpu, started = _cpu(resource.getrusage(resource.RUSAGE_SELF)), time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - started
    cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - cpu
    for client in clients:
        await client.aclose()
    return elapsed, cpu, latencies, statuses


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _verify(root: Path, statuses: dict[int, int]) -> list[str]:
    """Problems found: acknowledged updates missing or different, extra or temp files."""
    acked = {i for i, status in statuses.items() if status == 200}
    files = [p for p in (root / "raw" / "telegram").rglob("*") if p.is_file()]
    temps = [p for p in files if p.name.startswith(".")]
    stored = {int(p.stem): p for p in files if not p.name.startswith(".")}
    problems = []
    if set(stored) != acked:
        problems.append(
            f"{len(acked - set(stored))} acknowledged but missing, "
            f"{len(set(stored) - acked)} stored but not acknowledged"
        )
    wrong = [i for i in acked & set(stored) if stored[i].read_bytes() != body(i)]
    if wrong:
        problems.append(f"{len(wrong)} files differ from the body sent")
    if temps:
        problems.append(f"{len(temps)} temp files left")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--root", help="lake root for the durable phase (default: a temp dir)")
    parser.add_argument("--serve", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.root, args.port)
        return 0

    print("$", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(
        f"python {platform.python_version()}, uvicorn {uvicorn.__version__} (h11, asyncio),"
        f" httpx {httpx.__version__}, {os.cpu_count()} CPUs shared by client and server"
    )
    with tempfile.TemporaryDirectory(prefix="tgstat-bench-webhook-") as temp:
        root = Path(args.root or temp) / f"lake-{os.getpid()}"
        print(f"durable lake root: {root}")
        print(
            f"{'phase':<9}{'requests':>9}{'200s':>7}{'s':>7}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'client CPU s':>14}{'server CPU s':>14}"
        )
        rates: dict[str, float] = {}
        statuses: dict[int, int] = {}
        first_id = itertools.count(1, args.requests)
        for phase in PHASES:
            child, url = _start(phase, str(root))
            try:
                elapsed, client_cpu, latencies, statuses = asyncio.run(
                    _drive(url, args.requests, args.concurrency, args.max_seconds, next(first_id))
                )
            finally:
                child.terminate()
                server_cpu = _cpu(os.wait4(child.pid, 0)[2])  # whole server life, start included
                child.returncode = 0
            oks = sum(1 for s in statuses.values() if s == 200)
            rates[phase] = len(latencies) / elapsed
            print(
                f"{phase:<9}{len(latencies):>9}{oks:>7}{elapsed:>7.2f}{rates[phase]:>8.0f}"
                f"{_percentile(latencies, 0.5) * 1000:>8.1f}"
                f"{_percentile(latencies, 0.99) * 1000:>8.1f}"
                f"{client_cpu:>14.2f}{server_cpu:>14.2f}"
            )
        print(
            f"durable / trivial throughput: {rates['durable'] / rates['trivial']:.2f};"
            f" durable / no-disk: {rates['durable'] / rates['no-disk']:.2f}"
        )
        problems = _verify(root, statuses)
        acked = sum(1 for s in statuses.values() if s == 200)
        if problems:
            print("LOST OR DAMAGED:", "; ".join(problems))
            return 1
        print(f"verified: {acked} files on disk == {acked} responses 200, every byte as sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
