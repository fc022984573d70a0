"""``tgstat deploy --pool`` as a fresh user meets it, on a Prefect server of its own: bad
input is one error line, exit 2, with nothing registered (no pool, automation nor
deployment); a pool of another type is refused, a paused one warned of, deployments moved
from another pool said so; and ``tgstat doctor`` names a session deployment no worker polls."""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.conftest import private_home
from tests.integration.scale_out import DryChannel, deployments, dry_channel, worker, worker_env
from tgstat.app.prefect_server import local_prefect_server
from tgstat.domain.errors import TgstatError

PHONE = "+15550000071"
START = ("prefect", "worker", "start")
QUEUE_TG, QUEUE_LAKE = ("--work-queue", "tg-collect"), ("--work-queue", "lake-etl")


@attrs.frozen
class Setup:
    """A Prefect server of this module, and a home with one channel on an enabled session."""

    api: str
    home: Path
    channel: DryChannel


@pytest.fixture(name="setup", scope="module")
def _setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = private_home("deploy-home")
    channel = dry_channel(home, tmp_path_factory.mktemp("deploy"), 1900000701, PHONE)
    try:
        with local_prefect_server(private_home("deploy-prefect")) as server:
            yield Setup(server.api_url, home, channel)
    except TgstatError as e:
        pytest.exit(f"these tests need a Prefect server: {e}", returncode=3)


def deploy(setup: Setup, *args: str, home: Path | None = None, **env: str) -> Any:
    environment = clean_env(TGSTAT_HOME=str(home or setup.home))
    environment.update({"PREFECT_API_URL": setup.api, **env})
    return run_tgstat("deploy", *args, env=environment, timeout=300)


def registered(api: str) -> dict[str, Any]:
    """What the server holds: work pools (with type), deployments (with pool), automations."""
    pools = httpx.post(f"{api}/work_pools/filter", json={}, timeout=10).json()
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    return {
        "pools": sorted((p["name"], p["type"]) for p in pools),
        "deployments": sorted((n, d["work_pool_name"]) for n, d in deployments(api).items()),
        "automations": sorted(a["name"] for a in automations),
    }


@contextlib.contextmanager
def nothing_registered(api: str) -> Iterator[None]:
    """The block registers nothing; the automation is removed first, so that one made
    before a refusal shows."""
    for automation in httpx.post(f"{api}/automations/filter", json={}, timeout=10).json():
        httpx.delete(f"{api}/automations/{automation['id']}", timeout=10).raise_for_status()
    before = registered(api)
    yield
    assert registered(api) == before


def doctor(setup: Setup, **env: str) -> dict[str, tuple[str, str]]:
    """``tgstat doctor`` on the module's home and server: check name -> (verdict, detail)."""
    environment = clean_env(TGSTAT_HOME=str(setup.home))
    environment.update({"PREFECT_API_URL": setup.api, **env})
    done = run_tgstat("doctor", env=environment, timeout=120)
    assert done.stderr == "", done.stderr
    checks = {}
    for line in done.stdout.strip().splitlines()[:-1]:
        verdict, rest = line.split(maxsplit=1)
        name, detail = rest.split("  ", 1)
        checks[name.strip()] = (verdict, detail.strip())
    return checks


def one_error_line(done: Any, *parts: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tgstat: error: "), done.stderr
    for part in parts:
        assert part in lines[0]
    return str(lines[0])


class TestRefused:
    """One line, exit 2, nothing registered."""

    @pytest.mark.parametrize(
        "name", ["", "a/b", "a%b", "a&b", "a>b", "a<b", "a?b", "x" * 101, "prefect-x"]
    )
    def test_bad_pool_name(self, setup: Setup, name: str) -> None:
        with nothing_registered(setup.api):
            done = deploy(setup, "--pool", name)
        one_error_line(done, "argument --pool: work pool name")

    def test_malformed_prefect_url(self, setup: Setup) -> None:
        done = deploy(setup, "--pool", "tgstat", PREFECT_API_URL="http://[::1")
        one_error_line(done, "PREFECT_API_URL=http://[::1 is not a valid URL")
        verdict, detail = doctor(setup, PREFECT_API_URL="http://[::1")["prefect"]
        assert verdict == "FAIL"
        assert detail.startswith("cannot reach the Prefect server at http://[::1: ")

    def test_no_session_with_channels(self, setup: Setup) -> None:
        with nothing_registered(setup.api):
            done = deploy(setup, "--pool", "empty", home=private_home("deploy-empty"))
        one_error_line(done, "no enabled session has a channel", "tgstat add-bot-session")

    def test_pool_of_another_type(self, setup: Setup) -> None:
        made = httpx.post(
            f"{setup.api}/work_pools/", json={"name": "k8s", "type": "kubernetes"}, timeout=10
        )
        assert made.status_code == 201, made.text
        with nothing_registered(setup.api):
            done = deploy(setup, "--pool", "k8s")
        one_error_line(done, "work pool 'k8s' exists with type 'kubernetes', not 'process'")


class TestDeployed:
    def test_paused_pool_is_warned_of(self, setup: Setup) -> None:
        made = httpx.post(
            f"{setup.api}/work_pools/",
            json={"name": "paused", "type": "process", "is_paused": True},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        done = deploy(setup, "--pool", "paused")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == [
            "tgstat: warning: work pool 'paused' is paused: nothing runs until it is resumed"
            " (prefect work-pool resume paused)"
        ]
        found = deployments(setup.api)
        assert found[setup.channel.deployment]["work_pool_name"] == "paused"

    def test_another_pool_moves_the_deployments_and_says_so(self, setup: Setup) -> None:
        first = deploy(setup, "--pool", "first pool")
        assert first.returncode == 0, first.stderr
        commands = [line.strip() for line in first.stdout.splitlines() if "worker start" in line]
        own = ("--work-queue", setup.channel.deployment)
        assert [shlex.split(c) for c in commands] == [
            [*START, "--pool", "first pool", "--type", "process", *own, *QUEUE_TG, *QUEUE_LAKE]
        ]
        second = deploy(setup, "--pool", "second")
        assert second.returncode == 0, second.stderr
        assert (
            "moved here from work pool 'first pool' (whose workers no longer get their runs):"
            f" {setup.channel.deployment}, tg-collect, lake-etl"
        ) in second.stdout.splitlines()
        again = deploy(setup, "--pool", "second")
        assert again.returncode == 0, again.stderr
        assert "moved" not in again.stdout
        found = deployments(setup.api)
        assert {found[n]["work_pool_name"] for n in ("tg-collect", "lake-etl")} == {"second"}


class TestDoctor:
    """A session deployment whose queue no worker polls is a FAIL line naming it."""

    def test_session_deployment_without_worker(self, setup: Setup, tmp_path: Path) -> None:
        done = deploy(setup, "--pool", "doctor")
        assert done.returncode == 0, done.stderr
        name = setup.channel.deployment
        verdict, detail = doctor(setup)["workers"]
        assert verdict == "FAIL"
        assert detail.startswith(f"no worker polls {name} (pool 'doctor', queue {name}): ")
        env = worker_env(setup.api, setup.home, setup.channel)
        with worker("doctor", [name], tmp_path / "worker.log", env):
            deadline = time.monotonic() + 90
            while deployments(setup.api)[name]["status"] != "READY":
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                time.sleep(1)
            checks = doctor(setup)
        assert checks["workers"] == ("ok", f"a worker polls the queue of each of {name}")
