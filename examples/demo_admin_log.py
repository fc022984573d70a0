"""The demo channel's admin log (joins, leaves, removals, invite links, bots) and its
subscriber count over time, for make_demo.py (split out to keep it short)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Protocol

from demo_shape import iso


class Window(Protocol):
    """make_demo.Window: the channel's days."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def days(self) -> int: ...


FIRST_EVENT_ID = 3_400_000_001
EVENTS_BEFORE_START = 8
EVENTS_PER_3_DAYS = 292
FIRST_NAMES = ("Ann", "Boris", "Chen", "Dana", "Emil", "Farah", "Gleb", "Hana", "Ivan", "Jule")
LAST_NAMES = ("Lee", "Novak", "Ito", "Moreau", "Petrov", "Silva", "Khan", "Berg")
INVITE_LINKS = (
    ("https://t.me/+Xs9mQ2aLk3Bh", "Spring ads"),
    ("https://t.me/+pT7vNc1Ke0Jw", "Partner: Data Weekly"),
    ("https://t.me/+Zr4bHf8Wd2Qs", None),
)
FOLDER_LINK = ("https://t.me/+Fo1derN3wsAb", None)
"""The channel's link inside a shared chat folder: joins through it are ``via_chatlist``."""
SUBSCRIBERS_BEFORE = 12_480
"""The subscriber count before the admin log's window; later ones follow the log."""


def profile(rng: random.Random, user_id: int) -> dict[str, Any]:
    return {
        "id": user_id,
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES) if rng.random() < 0.5 else None,
        "username": f"user{user_id % 100000}" if rng.random() < 0.6 else None,
        "premium": rng.random() < 0.12,
        "scam": False,
        "verified": rng.random() < 0.01,
        "phone": None,
    }


def invite(rng: random.Random, action: str) -> dict[str, Any] | None:
    """The link of a join: a titled or untitled invite link, now and then the chat folder
    one; a join request has no link at all 40% of the time (the public username)."""
    if action == "join_by_request" and rng.random() < 0.4:
        return None
    folder = action == "join_by_invite" and rng.random() < 0.1
    link, title = FOLDER_LINK if folder else rng.choice(INVITE_LINKS)
    return {"link": link, "title": title, "via_chatlist": folder}


def subscribers(log: list[dict[str, Any]], window: Window) -> list[list[Any]]:
    """The count on the hour, from the log's joins and exits, as getFullChannel reports it."""
    points: list[list[Any]] = [[iso(window.start - timedelta(days=3)), SUBSCRIBERS_BEFORE]]
    count, events = SUBSCRIBERS_BEFORE, iter(log)
    pending = next(events, None)
    hour = window.start - timedelta(hours=48)
    while hour <= window.end:
        while pending is not None and pending["date"] <= iso(hour):
            count += -1 if pending["action"] in ("leave", "kick") else 1
            pending = next(events, None)
        if count != points[-1][1]:
            points.append([iso(hour), count])
        hour += timedelta(hours=1)
    return points


def event_times(rng: random.Random, window: Window) -> list[datetime]:
    start = window.start
    before = [
        start - timedelta(seconds=rng.randint(3600, 46 * 3600)) for _ in range(EVENTS_BEFORE_START)
    ]
    hours = list(range(24))
    hour_weights = [1 if h < 7 else 4 if h < 19 else 3 for h in hours]
    inside = [
        start
        + timedelta(days=rng.randrange(window.days), hours=rng.choices(hours, hour_weights)[0])
        + timedelta(seconds=rng.randrange(3600))
        for _ in range(round(EVENTS_PER_3_DAYS * window.days / 3))
    ]
    out: list[datetime] = []
    for t in sorted(before + inside):
        out.append(max(t, out[-1] + timedelta(seconds=1)) if out else t)
    return out


def make_admin_log(rng: random.Random, window: Window) -> tuple[list[dict[str, Any]], list[int]]:
    """~300 events and the ids of users who may comment."""
    events: list[dict[str, Any]] = []
    profiles: dict[int, dict[str, Any]] = {}
    members: dict[int, datetime] = {}  # joined in the log window, still in
    gone: dict[int, datetime] = {}  # left, may come back
    next_user = iter(rng.sample(range(5_100_000_000, 6_900_000_000), 2000))
    event_id = FIRST_EVENT_ID

    def new_user() -> int:
        uid = next(next_user)
        profiles[uid] = profile(rng, uid)
        return uid

    for t in event_times(rng, window):
        r = rng.random()
        settled = [u for u, at in members.items() if t - at > timedelta(minutes=20)]
        returning = [u for u, at in gone.items() if t - at > timedelta(hours=1)]
        if r < 0.10:  # an old subscriber (joined before the log window) leaves
            uid, action = new_user(), "leave"
            gone[uid] = t
        elif r < 0.25 and settled:  # a member leaves, or now and then an admin removes one
            uid, action = rng.choice(settled), rng.choices(("leave", "kick"), (4, 1))[0]
            del members[uid]
            gone[uid] = t
        elif r < 0.33 and returning:
            uid = rng.choice(returning)
            action = rng.choices(("join", "join_by_invite", "join_by_request"), (45, 40, 15))[0]
            del gone[uid]
            members[uid] = t
            p = profiles[uid] = dict(profiles[uid])
            if rng.random() < 0.3:
                p["username"] = f"{p['first_name'].lower()}_{uid % 1000}"
            if rng.random() < 0.15:
                p["premium"] = not p["premium"]
        else:
            uid = new_user()
            action = rng.choices(
                ("join", "join_by_invite", "join_by_request", "invite"), (50, 25, 12, 13)
            )[0]
            if action == "invite" and rng.random() < 0.15:  # an admin adds a bot
                profiles[uid].update(bot=True, username=f"helper{uid % 1000}_bot", premium=False)
            members[uid] = t
        event = {"id": event_id, "date": iso(t), "action": action}
        if action in ("join_by_invite", "join_by_request"):
            event["invite"] = invite(rng, action)
        events.append({**event, "user": profiles[uid]})
        event_id += rng.randint(1, 4)
    commenters = rng.sample(sorted(members), min(30, len(members)))
    commenters += [new_user() for _ in range(10)]
    return events, commenters
