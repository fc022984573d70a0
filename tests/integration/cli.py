"""Running the ``tgstat`` command as a user would: a real process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without TGSTAT_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGSTAT_")}
    env.update(extra)
    return env


def run_tgstat(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return run_module("tgstat.cli", *args, env=env, timeout=timeout)


def run_module(
    module: str, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` in a real process; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
