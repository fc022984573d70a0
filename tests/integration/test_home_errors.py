"""A TGSTAT_HOME that cannot be a directory is one clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli import clean_env, run_tgstat


class TestUnusableHome:
    """Missing parent it cannot create, a file, a path under a file: one line, exit 2."""

    @pytest.mark.parametrize(
        ("home", "reason"),
        [
            ("/proc/nope", "cannot be created (No such file or directory)"),
            ("{file}", "is a file, not a directory"),
            ("{file}/under", "cannot be created (Not a directory)"),
        ],
        ids=["uncreatable", "a-file", "under-a-file"],
    )
    def test_report(self, home: str, reason: str, tmp_path: Path) -> None:
        blocker = tmp_path / "a-file"
        blocker.write_text("kept as it is")
        path = home.format(file=blocker)
        done = run_tgstat("report", env=clean_env(TGSTAT_HOME=path), timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"tgstat: error: TGSTAT_HOME {path} {reason}: set TGSTAT_HOME to a directory"
            + ("" if "is a file" in reason else " you can write")
        ]
        assert blocker.read_text() == "kept as it is"
