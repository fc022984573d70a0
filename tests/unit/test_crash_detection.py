"""The crash-detection automation and the scale-out worker commands, as values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.schemas.objects import StateType
from prefect.events.schemas.automations import EventTrigger, Posture

from tgstat.flows.serve.crash_detection import (
    HEARTBEAT_ENV,
    crash_detection,
    heartbeat_s,
    window,
)
from tgstat.flows.serve.pool import worker_commands


class TestHeartbeat:
    """60 s unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY says otherwise, never under 30 s."""

    def test_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
        assert heartbeat_s() == 60
        assert window(60) == timedelta(seconds=135)

    @pytest.mark.parametrize(("raw", "seconds"), [("45", 45), ("5", 30)])
    def test_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, raw: str, seconds: int
    ) -> None:
        monkeypatch.setenv(HEARTBEAT_ENV, raw)
        assert heartbeat_s() == seconds


class TestAutomation:
    """After a heartbeat, silence (no event at all of that run) for the window crashes it."""

    def test_the_trigger(self) -> None:
        trigger = crash_detection({"tg-collect", "lake-etl"}, 30).trigger
        assert isinstance(trigger, EventTrigger)
        assert trigger.posture == Posture.Proactive
        assert trigger.after == {"prefect.flow-run.heartbeat"}
        # any event of the run is a sign of life: a completion named Skipped as well (the
        # recipe's list of state names would crash such a run after the window)
        assert trigger.expect == {"prefect.flow-run.*"}
        assert trigger.for_each == {"prefect.resource.id"}
        assert trigger.within == timedelta(seconds=75)
        related = trigger.match_related
        assert not isinstance(related, list)
        assert related.root["prefect.resource.name"] == ["lake-etl", "tg-collect"]

    def test_the_action(self) -> None:
        [action] = crash_detection({"tg-collect"}, 60).actions
        assert action.model_dump(include={"type", "state", "force"}) == {
            "type": "change-flow-run-state",
            "state": StateType.CRASHED,
            "force": False,  # a run that ended meanwhile keeps its end
        }


class TestWorkerCommands:
    """One worker per session's queue; the first also takes the shared queues."""

    def test_commands(self) -> None:
        queues = ["tg-collect-s1", "tg-collect-s2", "tg-collect", "lake-etl"]
        assert worker_commands("p", queues) == [
            "prefect worker start --pool p --type process --work-queue tg-collect-s1"
            " --work-queue tg-collect --work-queue lake-etl",
            "prefect worker start --pool p --type process --work-queue tg-collect-s2",
        ]
