"""Fixtures of the ``tgstat report`` tests: one database for the whole package.

The database holds two channels: metrics-lab.json (every value the tests check is derived by
hand in test_metric_views.py, whose derivations they reuse) and the worked example.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.test_metric_views import lab_database
from tgstat.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LAB = 1777000020
WORKED = 1777000001
LAB_TITLE = "Metrics Lab (@metrics_lab, id 1777000020)"


@attrs.frozen
class Run:
    """One ``tgstat`` invocation: exit code and what it printed."""

    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The error line, after checking it is one line and the exit code 2."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert self.err.splitlines() == [self.err.strip()], self.err
        assert self.err.startswith("tgstat: error: "), self.err
        return self.err.strip()


@pytest.fixture(name="url", scope="package")
async def _url(server_url: str, template_url: str) -> AsyncIterator[str]:
    async with lab_database(server_url, SCENARIOS / "worked-example.json") as url:
        yield url


@pytest.fixture(name="tgstat")
def _tgstat(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """``tgstat report ARGS`` in this process, against the module's database."""
    for name in [k for k in os.environ if k.startswith("TGSTAT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TGSTAT_DATABASE_URL", url)

    def run(*args: str) -> Run:
        capsys.readouterr()
        try:
            code = main(["report", *args])
        except SystemExit as e:  # argparse's errors and --help
            code = int(e.code or 0)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


@pytest.fixture(name="view")
def _view(url: str) -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """Rows of a query on the views, as dicts."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        yield lambda query: conn.execute(query).fetchall()


def block(text: str, heading: str) -> list[str]:
    """The lines of the section whose heading starts with ``heading``, up to a blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        out.append(line)
    return out


def cells(text: str, heading: str) -> list[list[str]]:
    """The body rows of a section's table, split on runs of spaces (header dropped)."""
    return [line.split() for line in block(text, heading)[1:]]


def post_ids(text: str) -> list[int]:
    return [int(row[0]) for row in cells(text, "posts")]
