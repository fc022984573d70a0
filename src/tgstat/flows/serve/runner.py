"""One Prefect runner for several deployments, stopped cleanly by SIGTERM, SIGINT or SIGHUP.

Prefect's own ``serve`` stops only on Ctrl-C (its SIGTERM handler exits without waiting), and
pauses the schedules on the way out, which hangs for a minute when the server is already
gone. Here a stop signal cancels the runs in flight through the API (they end Cancelled,
their transactions rolled back) and the runner exits within ``STOP_GRACE_S``; schedules stay
active, so runs missed while nothing served start when serving resumes (``tg-collect`` skips
stale interval runs; ``lake-etl`` catches up on each missed day). Before serving, the
crash-detection automation is ensured (``crash_detection``), and every run sends heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import Any

import attrs
from prefect import Flow
from prefect.runner import Runner

from tgstat.flows.serve.crash_detection import (
    HEARTBEAT_ENV,
    ensure_crash_detection,
    heartbeat_s,
)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_S = 6.0
RUNNER_NAME = "tgstat"

log = logging.getLogger(__name__)


@attrs.frozen
class Served:
    """A flow and how it is deployed (the keyword arguments of ``Runner.aadd_flow``)."""

    flow: Flow[Any, Any]
    options: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.options["name"])


def serve_until_stopped(deployments: Sequence[Served]) -> None:
    """Register ``deployments`` and run their scheduled runs until a stop signal."""
    asyncio.run(_serve(deployments))


async def _serve(deployments: Sequence[Served]) -> None:
    heartbeat = heartbeat_s()
    await ensure_crash_detection({d.flow.name for d in deployments}, heartbeat)
    # the runs (subprocesses) send heartbeats at the automation's pace; through the
    # environment: Runner(heartbeat_seconds=...) kept it from cancelling a run on stop
    os.environ[HEARTBEAT_ENV] = str(heartbeat)
    # pause_on_shutdown=False: one process stopping never pauses the deployments that
    # other processes serve too, nor deletes their scheduled runs
    runner = Runner(name=RUNNER_NAME, pause_on_shutdown=False)
    for served in deployments:
        # as Flow.serve does: the flow object itself runs (in a subprocess), nothing is
        # loaded from storage, and a work pool left on the deployment is cleared
        await runner.aadd_flow(served.flow, **served.options)
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []
    stop = asyncio.Event()
    running = asyncio.create_task(runner.start())
    # start() installs Prefect's SIGTERM handler (exit at once) before its first await:
    # let it, then replace it with ours
    await asyncio.sleep(0)
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, _note, received, stop, sig)
    print(
        f"serving {', '.join(d.name for d in deployments)}; SIGTERM, SIGINT or SIGHUP stops",
        flush=True,
    )
    stopping = asyncio.create_task(_until(stop))
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        stopping.cancel()
        running.result()  # the runner ended on its own: its error, if any, propagates
        return
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            if runner.started:
                log.info("%s: stopping the runner", received[0].name)
                await runner.astop()  # cancels the runs in flight through the API
                await running
            else:  # still starting: no run can be in flight, nothing to stop
                _say(f"{received[0].name}: stopping before the runner started")
    except TimeoutError:
        log.warning("the runner did not stop within %.0f s; leaving anyway", STOP_GRACE_S)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        print(text, flush=True)


async def _until(event: asyncio.Event) -> None:
    await event.wait()


def _note(received: list[signal.Signals], stop: asyncio.Event, sig: signal.Signals) -> None:
    received.append(sig)
    stop.set()
