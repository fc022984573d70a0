"""Work pool names of ``tgstat deploy --pool``: Prefect's own rules, checked before anything
runs; the printed worker commands give the shell back exactly the names deployed."""

from __future__ import annotations

import shlex

import pydantic
import pytest
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.types.names import BANNED_CHARACTERS

from tgstat.flows import prefect_api
from tgstat.flows.prefect_api import InvalidPoolNameError, check_pool_name
from tgstat.flows.serve.pool import worker_commands

SHARED = ("--work-queue", "tg-collect", "--work-queue", "lake-etl")
REFUSED_BY_PREFECT = ["", "  ", "'\"", "a/b", "a%b", "a&b", "a>b", "a<b"]


@pytest.mark.parametrize(
    "name", [*REFUSED_BY_PREFECT, "a?b", "a#b", "a\nb", "a\tb", "x" * 101, "Prefect-pool"]
)
def test_refused(name: str) -> None:
    with pytest.raises(InvalidPoolNameError, match=r"^work pool name "):
        check_pool_name(name)


@pytest.mark.parametrize("name", ["tgstat", "my pool", "équipe_1", "x" * 100, "it's; $(id)"])
def test_accepted(name: str) -> None:
    assert check_pool_name(name) == name


@pytest.mark.parametrize("name", REFUSED_BY_PREFECT)
def test_prefect_refuses_them_too(name: str) -> None:
    """The names refused as Prefect's are the ones its client refuses (with a traceback)."""
    with pytest.raises(pydantic.ValidationError):
        WorkPoolCreate(name=name, type="process")


def test_the_banned_characters_are_prefects() -> None:
    assert set(BANNED_CHARACTERS) <= set(prefect_api.BANNED_CHARACTERS)


def test_worker_commands_are_shell_quoted() -> None:
    pool = "it's; $(id) `x`"
    commands = worker_commands(pool, ["tg-collect-s1", "tg-collect-s2", "tg-collect", "lake-etl"])
    start = ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
    assert [shlex.split(c) for c in commands] == [
        [*start, *("--work-queue", "tg-collect-s1"), *SHARED],
        [*start, "--work-queue", "tg-collect-s2"],
    ]
    assert worker_commands("tgstat", ["tg-collect", "lake-etl"]) == [
        "prefect worker start --pool tgstat --type process --work-queue tg-collect"
        " --work-queue lake-etl"
    ]
