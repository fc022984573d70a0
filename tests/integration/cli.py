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
    return subprocess.run(
        [sys.executable, "-m", "tgstat.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
