"""``tgstat serve``: serve ``tg-collect`` every 300 s, with a local Prefect server when
PREFECT_API_URL is unset."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any

from tgstat.app.settings import Settings


def register(sub: Any) -> None:
    """Add ``serve`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser(
        "serve", help="serve tg-collect every 300 s (starts a local Prefect server if needed)"
    )
    p.add_argument("--port", type=int, default=4200, help="local Prefect server port")
    p.set_defaults(run=serve_run)


def serve_run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.prefect_api_url is not None:
        from tgstat.flows import serve  # imports prefect: only when serving

        serve.serve(settings)
        return 0
    from tgstat.app.prefect_server import local_prefect_server

    with local_prefect_server(settings.home, port=args.port) as api_url:
        print(
            f"Prefect server and UI at {api_url.removesuffix('/api')}; serving tg-collect"
            " every 300 s. Ctrl-C stops both.",
            flush=True,
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "tgstat.flows.serve"],
            env={**os.environ, "PREFECT_API_URL": api_url},
        )
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
            raise
