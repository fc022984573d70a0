"""Hypothesis strategies for domain values (the one module that builds them)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st

from tests.builders import CHANNEL, T0
from tgstat.domain.ids import EventId, UserId
from tgstat.domain.model import MemberAction, MemberEvent, UserProfile

USER_IDS = st.integers(min_value=1, max_value=6).map(UserId)
PROFILES = st.builds(
    UserProfile,
    id=USER_IDS,
    first_name=st.sampled_from(["Ann", "Bob", None]),
    username=st.sampled_from(["a", "b", None]),
    premium=st.booleans(),
)
ACTIONS = st.sampled_from(list(MemberAction))


@st.composite
def event_logs(draw: st.DrawFn, max_size: int = 40) -> list[MemberEvent]:
    """An admin log: increasing ids and non-decreasing dates, few users, all actions."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    events, event_id, when = [], 0, T0
    for _ in range(n):
        event_id += draw(st.integers(min_value=1, max_value=3))
        when += timedelta(minutes=draw(st.integers(min_value=0, max_value=90)))
        user = draw(PROFILES)
        events.append(MemberEvent(EventId(event_id), when, draw(ACTIONS), user))
    return events


__all__ = ["CHANNEL", "event_logs"]
