"""Replay: a scripted channel (docs/scenario-format.md) behind the TelegramGateway port, a
simulated clock, and a simulated scheduler. Deterministic; no network.

``scenario`` parses and validates a scenario file (``fields``: checked JSON reads and
timelines; ``posts``; ``admin_log``), ``gateway`` answers for it as Telegram would,
``clock`` holds the simulated (or wall) time and the simulated scheduler.
"""

from tgstat.adapters.replay.admin_log import ScriptedEvent
from tgstat.adapters.replay.clock import Clock, SimClock, SimScheduler, WallClock
from tgstat.adapters.replay.fields import ScenarioError, Timeline
from tgstat.adapters.replay.gateway import ADMIN_LOG_RETENTION, PAGE_SIZE, ReplayGateway
from tgstat.adapters.replay.posts import (
    DISCUSSION_GROUP_BASE,
    ScriptedComment,
    ScriptedPost,
    discussion_group_id,
)
from tgstat.adapters.replay.scenario import CALL_KINDS, Fault, Scenario

__all__ = [
    "ADMIN_LOG_RETENTION",
    "CALL_KINDS",
    "DISCUSSION_GROUP_BASE",
    "PAGE_SIZE",
    "Clock",
    "Fault",
    "ReplayGateway",
    "Scenario",
    "ScenarioError",
    "ScriptedComment",
    "ScriptedEvent",
    "ScriptedPost",
    "SimClock",
    "SimScheduler",
    "Timeline",
    "WallClock",
    "discussion_group_id",
]
