"""Shared by the scale benchmarks: one channel's realistic activity as a scenario dict
(docs/scenario-format.md), deterministic for a seed.

A channel has a size (subscribers), a posting rate (lognormal around 12 publications a day,
2-60) and an admin-log rate (lognormal around 60 membership events a day). Publications are
spread uniformly over the day, 30% of them on the full hour (scheduled posts); 10% are
albums of 2-5 messages (one ``grouped_id``, the first carries text, reactions and thread);
2% of messages are deleted 10 minutes to 30 hours after their date. 60% of channels have a
discussion group: their posts get comments (users, channels, anonymous admins, no sender; 1%
of threads unreadable). Joins (plain, by invite link, by request), leaves, kicks and bots are
in the admin log; the subscriber count moves hourly. Old (history) posts keep gaining a few
views 1-3 times a day, as on Telegram, so the rotation finds some of them changed.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

EMOJIS = ("👍", "❤", "🔥", "😁", "🤔", "👎")
USERS = 200_000
"""User ids are shared by all channels (one person subscribes to several)."""
HISTORY_SPAN = timedelta(days=300)
LIVE_LEAD = timedelta(hours=26)
"""Live posts start this long before ``start``: at the first run every horizon of the
steady state is already planned, as for a channel tgstat has collected for days."""
INVITES = ("Spring ads", "Partner post", None)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(points: list[tuple[datetime, int]]) -> list[list[Any]]:
    return [[_iso(t), v] for t, v in points]


def _lognormal(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, round(rng.lognormvariate(math.log(median), sigma))))


class _Channel:
    """Builds one channel's scenario; ids and dates grow together as Telegram's do."""

    def __init__(self, rng: random.Random, channel_id: int, start: datetime, end: datetime):
        self.rng, self.id, self.start, self.end = rng, channel_id, start, end
        self.subscribers = _lognormal(rng, 8_000, 1.0, 300, 500_000)
        self.posts_per_day = _lognormal(rng, 12, 0.6, 2, 60)
        self.events_per_day = _lognormal(rng, 60, 0.8, 5, 1_000)
        self.discussion = rng.random() < 0.6
        self.posts: list[dict[str, Any]] = []
        self.comments: list[tuple[datetime, dict[str, Any]]] = []
        self.next_album = 1

    def views(self, date: datetime, live: bool) -> list[list[Any]]:
        final = max(10, int(self.subscribers * self.rng.uniform(0.1, 0.6)))
        # views grow like final * (1 - e^(-t / 6 h)); history posts are long settled
        halves = (1, 2, 4, 8, 12, 24, 48, 96) if live else (2, 48)
        points = [(date, 0)] + [
            (date + timedelta(minutes=30 * k), int(final * (1 - math.exp(-k / 12)))) for k in halves
        ]
        points.append((date + timedelta(days=7), final))
        if not live:  # an old post still gains a few views, 1-3 times a day
            live_from = self.start - LIVE_LEAD
            span = (self.end - live_from).total_seconds()
            count = max(1, round(self.rng.uniform(1, 3) * span / 86_400))
            instants = sorted(
                t
                for t in (
                    live_from + timedelta(seconds=int(self.rng.uniform(0, span)))
                    for _ in range(count)
                )
                if t > date + timedelta(days=7)
            )
            for k, instant in enumerate(instants, start=1):
                points.append((instant, final + k * max(1, final // 2_000)))
        return _line(points)

    def reactions(self, date: datetime) -> dict[str, Any]:
        rng = self.rng
        keys = rng.sample(EMOJIS, rng.randint(1, 3))
        if rng.random() < 0.1:
            keys.append(f"custom:{rng.randint(10**18, 9 * 10**18)}")
        if rng.random() < 0.05:
            keys.append("paid")
        total = max(1, self.subscribers // 200)
        spread = timedelta(hours=rng.randint(2, 30))
        return {
            key: _line(
                [
                    (date + spread * (k / 4), max(1, int(total * share) * k // 4))
                    for k in (1, 2, 3, 4)
                ]
            )
            for key in keys
            for share in (rng.random(),)
        }

    def publication(self, pid: int, date: datetime, live: bool) -> int:
        """Adds a post or an album at ``date``; returns the next free id."""
        rng = self.rng
        size = rng.randint(2, 5) if rng.random() < 0.1 else 1
        group = None
        if size > 1:
            group, self.next_album = self.id * 1000 + self.next_album, self.next_album + 1
        for k in range(size):
            post: dict[str, Any] = {
                "id": pid + k,
                "date": _iso(date),
                "text": f"post {pid}" if k == 0 else None,
                "media": rng.choice((None, "photo", "video", "webpage")) if size == 1 else "photo",
                "views": self.views(date, live),
                "forwards": _line([(date + timedelta(hours=2), rng.randint(0, 30))]),
                "discussion": self.discussion,
            }
            if group is not None:
                post["grouped_id"] = group
            if rng.random() < 0.02:
                post["deleted_at"] = _iso(date + timedelta(seconds=rng.randint(600, 30 * 3600)))
            if k == 0:
                if rng.random() < (0.8 if live else 0.5):
                    post["reactions"] = self.reactions(date)
                if self.discussion:
                    self.thread(post, date, live)
            self.posts.append(post)
        return pid + size

    def thread(self, post: dict[str, Any], date: datetime, live: bool) -> None:
        rng = self.rng
        if rng.random() < 0.01:
            post["thread_unreadable"] = True
        count = min(60, int(rng.expovariate(1 / (8 if live else 3))))
        for _ in range(count):
            self.comments.append(
                (date + timedelta(seconds=int(rng.expovariate(1 / 10_800)) + 30), post)
            )

    def author(self) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.05:
            return {"channel_id": self.rng.randint(1_000_000_000, 1_000_000_500)}
        if roll < 0.08:
            return {"anonymous": True}
        if roll < 0.10:
            return {}
        return {"user_id": self.rng.randint(1, USERS)}

    def admin_log(self) -> list[dict[str, Any]]:
        rng = self.rng
        first = self.start - timedelta(hours=47)
        span = (self.end - first).total_seconds()
        n = round(self.events_per_day * span / 86_400)
        dates = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
        joined: list[int] = []
        events = []
        for k, date in enumerate(dates):
            event: dict[str, Any] = {
                "id": 1_000_000 + 3 * k + rng.randint(0, 2),
                "date": _iso(date),
            }
            if joined and rng.random() < 0.35:
                uid = joined.pop(rng.randrange(len(joined)))
                event["action"] = "kick" if rng.random() < 0.05 else "leave"
            else:
                uid = rng.randint(1, USERS)
                joined.append(uid)
                action = rng.choice(("join", "join", "join_by_invite", "join_by_request", "invite"))
                event["action"] = action
                if action in ("join_by_invite", "join_by_request"):
                    title = rng.choice(INVITES)
                    event["invite"] = {
                        "link": f"https://t.me/+bench{self.id}x{INVITES.index(title)}",
                        "title": title,
                        "via_chatlist": False,
                    }
            event["user"] = {
                "id": uid,
                "first_name": f"User{uid}",
                "username": f"user{uid}" if uid % 3 else None,
                "premium": uid % 7 == 0,
                "bot": uid % 97 == 0,
            }
            if rng.random() < 0.01:
                event["user_missing"] = True
            events.append(event)
        return events

    def subscriber_line(self) -> list[list[Any]]:
        hours = int((self.end - self.start) / timedelta(hours=1)) + 26
        t, count, points = self.start - timedelta(hours=25), self.subscribers, []
        for _ in range(hours):
            count = max(0, count + self.rng.randint(-3, 5))
            points.append((t, count))
            t += timedelta(hours=1)
        return _line(points)


def _on_the_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def channel_scenario(
    seed: int, channel_id: int, start: datetime, end: datetime, history: int
) -> dict[str, Any]:
    """A scenario dict for one channel: ``history`` posts over the 300 days before the live
    stretch, then live publications from 26 h before ``start`` to ``end``."""
    ch = _Channel(random.Random(f"{seed}:{channel_id}"), channel_id, start, end)
    rng, live_from = ch.rng, start - LIVE_LEAD
    oldest = live_from - HISTORY_SPAN
    old = sorted(
        oldest + timedelta(seconds=rng.uniform(0, HISTORY_SPAN.total_seconds()))
        for _ in range(history)
    )
    pid = 1
    for date in old:
        pid = ch.publication(pid, date.replace(microsecond=0), live=False)
    span = (end - live_from).total_seconds()
    count = round(ch.posts_per_day * span / 86_400)
    dates = [live_from + timedelta(seconds=rng.uniform(0, span)) for _ in range(count)]
    # scheduled posts go out on the full hour
    dates = [_on_the_hour(d) if rng.random() < 0.3 else d.replace(microsecond=0) for d in dates]
    for date in sorted(dates):  # ids grow with dates
        pid = ch.publication(pid, date, live=True)
    ch.comments.sort(key=lambda c: (c[0], c[1]["id"]))
    for cid, (at, post) in enumerate(ch.comments, start=1):
        post.setdefault("comments", []).append({"id": cid, "date": _iso(at), **ch.author()})
    return {
        "channel": {
            "id": channel_id,
            "title": f"Bench channel {channel_id}",
            "username": f"bench_{channel_id}",
            "subscribers": ch.subscriber_line(),
        },
        "start": _iso(start),
        "end": _iso(end),
        "interval_s": 300,
        "posts": ch.posts,
        "admin_log": ch.admin_log(),
    }
