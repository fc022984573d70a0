"""``tgstat serve``: serve ``tg-collect`` every 300 s and ``lake-etl`` daily, with a local
Prefect server unless PREFECT_API_URL names one.

One process tree: this process holds the embedded PostgreSQL (when it is the database) and
supervises the local Prefect server and the runner (``python -m tgstat.flows.serve``), each
in a process group of its own. SIGTERM, SIGINT or SIGHUP stops the runner first (runs in
flight are cancelled through the API while it is still up), then the Prefect server, then
the embedded PostgreSQL: all within 15 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import time
from typing import TYPE_CHECKING, Any

from tgstat.app.settings import Settings
from tgstat.domain.errors import TgstatError

if TYPE_CHECKING:
    from tgstat.app.supervisor import StopSignals

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
DEFAULT_INTERVAL_S = 300
RUNNER_MODULE = "tgstat.flows.serve"
RUNNER_STOP_S = 8.0
_POLL_S = 0.5


class ServeError(TgstatError):
    """Raised when serving cannot start, or a part of it (runner, Prefect server) dies."""


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {port}")
    return port


def register(sub: Any) -> None:
    """Add ``serve`` to the ``tgstat`` subparsers ``sub``."""
    p = sub.add_parser(
        "serve",
        help="serve tg-collect every 300 s and lake-etl daily (a local Prefect server unless"
        " PREFECT_API_URL is set)",
        description="Serve tg-collect every 300 s and lake-etl daily in one process tree."
        " Without PREFECT_API_URL a local Prefect server (UI and API) is started on"
        " --host:--port; SIGTERM, SIGINT or SIGHUP stops everything.",
    )
    p.add_argument("--host", help=f"local Prefect server address (default {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=port_number, help=f"local Prefect server port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--interval",
        type=interval_type,
        default=DEFAULT_INTERVAL_S,
        metavar="SECONDS",
        help=f"seconds between tg-collect runs (default {DEFAULT_INTERVAL_S})",
    )
    p.add_argument(
        "--server-only",
        action="store_true",
        help="run the local Prefect server alone, serving nothing: the shared server of"
        " `tgstat deploy` and its workers (see README, Scaling out)",
    )
    p.set_defaults(run=serve_run)


def interval_type(text: str) -> int:
    """An argparse type: a collection interval in seconds (5 to 86400)."""
    from tgstat.flows.serve import interval_seconds  # no Prefect import

    return interval_seconds(text)


def serve_run(args: argparse.Namespace, settings: Settings) -> int:
    from tgstat.app.database import database_url
    from tgstat.app.migrate import migrate
    from tgstat.app.prefect_server import local_prefect_server, serving
    from tgstat.app.supervisor import Stopped, StopSignals, check_port_free
    from tgstat.cli.collection import ensure_dry_run_channel
    from tgstat.flows.serve import require_prefect  # no Prefect import: an HTTP check

    host, port = args.host or DEFAULT_HOST, args.port or DEFAULT_PORT
    with StopSignals().installed() as stop, contextlib.ExitStack() as stack:
        try:
            if settings.prefect_api_url is not None:
                if args.server_only:
                    raise ServeError(
                        "--server-only starts a local Prefect server, but PREFECT_API_URL is"
                        f" set ({settings.prefect_api_url}): unset it"
                    )
                if args.host is not None or args.port is not None:
                    raise ServeError(
                        "--host and --port start a local Prefect server, but PREFECT_API_URL"
                        f" is set ({settings.prefect_api_url}): unset one or the other"
                    )
                api_url, server = require_prefect(settings), None
            else:
                check_port_free(host, port, "another Prefect server?")
            url = stack.enter_context(database_url(settings))  # held while serving
            migrate(url)
            ensure_dry_run_channel(settings, url)
            stop.check()
            if settings.prefect_api_url is None:
                local = stack.enter_context(
                    local_prefect_server(settings.home, host=host, port=port, interrupt=stop.check)
                )
                api_url, server = local.api_url, local.process
                _say(f"Prefect UI at {local.ui_url}, API at {api_url}")
            stack.enter_context(serving(settings.home, api_url))
            interval = None if args.server_only else args.interval
            return _supervise(stack, stop, api_url, server, interval)
        except Stopped as e:
            _say(f"{e.signal.name}: stopping")
    _say("stopped")
    return 0


def _say(text: str) -> None:
    # after SIGHUP the terminal may be gone: stopping matters more than saying so
    with contextlib.suppress(OSError):
        print(f"tgstat serve: {text}", flush=True)


def _supervise(
    stack: contextlib.ExitStack,
    stop: StopSignals,
    api_url: str,
    server: subprocess.Popen[bytes] | None,
    interval: int | None,
) -> int:
    """Run the runner (none when ``interval`` is None: the server alone) until a stop signal
    (raised as Stopped) or until a part dies."""
    from tgstat.app.supervisor import spawn_module, stop_child

    runner = None
    if interval is not None:
        env = {**os.environ, "PREFECT_API_URL": api_url}
        runner = spawn_module(RUNNER_MODULE, env, ["--interval", str(interval)])
        stack.callback(stop_child, runner, RUNNER_STOP_S)  # first out: before the server
        _say(
            f"serving tg-collect every {interval} s and lake-etl daily; SIGTERM or Ctrl-C"
            " stops everything"
        )
    else:
        _say("the Prefect server alone, serving nothing; SIGTERM or Ctrl-C stops it")
    while True:
        stop.check()
        if runner is not None and runner.poll() is not None:
            raise ServeError(f"the runner ({RUNNER_MODULE}) exited with code {runner.returncode}")
        if server is not None and server.poll() is not None:
            raise ServeError(
                f"the local Prefect server exited with code {server.returncode}"
                " (see TGSTAT_HOME/prefect/server.log)"
            )
        time.sleep(_POLL_S)
