"""Replay: a scripted channel (shared/SCENARIO.md) behind the TelegramGateway port, a
simulated clock, and a simulated scheduler. Deterministic; no network."""

from __future__ import annotations

import bisect
import heapq
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs

from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, UserId
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    MemberAction,
    MemberEvent,
    Post,
    PostCounters,
    ReactionCount,
    UserProfile,
)
from tgstat.domain.planning import MAX_IDS_PER_REQUEST, FollowUp
from tgstat.ports.gateway import (
    ChannelInfo,
    ChannelNotFoundError,
    DisconnectedError,
    NoDiscussionError,
    RateLimitedError,
    SessionBannedError,
    TelegramGateway,
)
from tgstat.ports.scheduler import Scheduler

PAGE_SIZE = 100
ADMIN_LOG_RETENTION = timedelta(hours=48)
CALL_KINDS = ("posts", "counters", "comments", "admin_log")


class ScenarioError(TgstatError):
    """Raised when a scenario file cannot be read or breaks the format of SCENARIO.md."""


def _instant(raw: Any, where: str) -> datetime:
    if not isinstance(raw, str):
        raise ScenarioError(f"{where}: expected an ISO 8601 time, got {raw!r}")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"{where}: not an ISO 8601 time: {raw!r}") from None
    if value.tzinfo is None:
        raise ScenarioError(f"{where}: time without a zone: {raw!r}")
    return value


@attrs.frozen
class Timeline:
    """A step function: the value of the last point at or before T, 0 before the first."""

    times: tuple[datetime, ...]
    values: tuple[int, ...]

    @classmethod
    def parse(cls, raw: Any, where: str) -> Timeline:
        if raw is None:
            return cls((), ())
        if not isinstance(raw, list):
            raise ScenarioError(f"{where}: a timeline is a list of [time, value] pairs")
        points = []
        for i, point in enumerate(raw):
            if not (isinstance(point, list) and len(point) == 2 and isinstance(point[1], int)):
                raise ScenarioError(f"{where}[{i}]: expected [time, integer], got {point!r}")
            points.append((_instant(point[0], f"{where}[{i}]"), point[1]))
        points.sort(key=lambda p: p[0])
        return cls(tuple(t for t, _ in points), tuple(v for _, v in points))

    def at(self, instant: datetime) -> int:
        i = bisect.bisect_right(self.times, instant)
        return self.values[i - 1] if i else 0


@attrs.frozen
class ScriptedComment:
    id: int
    date: datetime
    author_kind: AuthorKind
    author_id: int


@attrs.frozen
class ScriptedPost:
    id: int
    date: datetime
    text: str | None
    media: str | None
    views: Timeline
    forwards: Timeline
    reactions: tuple[tuple[str, Timeline], ...]
    comments: tuple[ScriptedComment, ...]
    discussion: bool


@attrs.frozen
class ScriptedEvent:
    id: int
    date: datetime
    action: MemberAction
    user: UserProfile


@attrs.frozen
class Fault:
    at: datetime
    call: str
    kind: str
    seconds: float = 0.0


@attrs.frozen
class Scenario:
    """A parsed scenario file (shared/SCENARIO.md)."""

    channel: ChannelInfo
    start: datetime
    end: datetime
    interval: timedelta
    posts: tuple[ScriptedPost, ...]
    admin_log: tuple[ScriptedEvent, ...]
    faults: tuple[Fault, ...]

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ScenarioError(f"cannot read scenario {path}: {e.strerror}") from e
        except ValueError as e:
            raise ScenarioError(f"scenario {path} is not valid JSON: {e}") from e
        return cls.parse(raw)

    @classmethod
    def parse(cls, raw: Any) -> Scenario:
        try:
            return _parse_scenario(raw)
        except (KeyError, TypeError) as e:
            raise ScenarioError(f"scenario is missing or mistypes a field: {e}") from e

    def ticks(self) -> list[datetime]:
        """start, start + interval, ... up to and including end."""
        out, t = [], self.start
        while t <= self.end:
            out.append(t)
            t += self.interval
        return out


def _parse_scenario(raw: Any) -> Scenario:
    ch = raw["channel"]
    if not isinstance(ch.get("id"), int) or ch["id"] <= 0:
        raise ScenarioError("channel.id must be a positive integer")
    interval = raw.get("interval_s", 300)
    if not isinstance(interval, int) or interval <= 0:
        raise ScenarioError("interval_s must be a positive integer")
    start, end = _instant(raw["start"], "start"), _instant(raw["end"], "end")
    if end < start:
        raise ScenarioError("end is before start")
    posts = tuple(_parse_post(p, f"posts[{i}]") for i, p in enumerate(raw.get("posts", [])))
    if len({p.id for p in posts}) != len(posts):
        raise ScenarioError("post ids must be unique")
    events = tuple(
        _parse_event(e, f"admin_log[{i}]") for i, e in enumerate(raw.get("admin_log", []))
    )
    faults = tuple(_parse_fault(f, f"faults[{i}]") for i, f in enumerate(raw.get("faults", [])))
    return Scenario(
        channel=ChannelInfo(
            ChannelId(ch["id"]), str(ch.get("title", ch["id"])), ch.get("username")
        ),
        start=start,
        end=end,
        interval=timedelta(seconds=interval),
        posts=tuple(sorted(posts, key=lambda p: p.id)),
        admin_log=tuple(sorted(events, key=lambda e: e.id)),
        faults=faults,
    )


def _parse_post(raw: Any, where: str) -> ScriptedPost:
    comments = []
    for i, c in enumerate(raw.get("comments", [])):
        kind, author = (
            (AuthorKind.USER, c["user_id"])
            if "user_id" in c
            else (AuthorKind.CHANNEL, c["channel_id"])
        )
        comments.append(
            ScriptedComment(
                int(c["id"]), _instant(c["date"], f"{where}.comments[{i}]"), kind, int(author)
            )
        )
    reactions = tuple(
        (key, Timeline.parse(line, f"{where}.reactions.{key}"))
        for key, line in sorted(raw.get("reactions", {}).items())
    )
    for key, _ in reactions:
        if key.startswith("custom:") and not key.removeprefix("custom:").isdigit():
            raise ScenarioError(f"{where}.reactions: bad custom emoji key {key!r}")
    return ScriptedPost(
        id=int(raw["id"]),
        date=_instant(raw["date"], f"{where}.date"),
        text=raw.get("text"),
        media=raw.get("media"),
        views=Timeline.parse(raw.get("views"), f"{where}.views"),
        forwards=Timeline.parse(raw.get("forwards"), f"{where}.forwards"),
        reactions=reactions,
        comments=tuple(sorted(comments, key=lambda c: c.id)),
        discussion=bool(raw.get("discussion", True)),
    )


def _parse_event(raw: Any, where: str) -> ScriptedEvent:
    try:
        action = MemberAction(raw["action"])
    except ValueError:
        raise ScenarioError(f"{where}: unknown action {raw['action']!r}") from None
    u = raw["user"]
    user = UserProfile(
        UserId(int(u["id"])),
        u.get("first_name"),
        u.get("last_name"),
        u.get("username"),
        u.get("premium"),
        u.get("scam"),
        u.get("verified"),
        u.get("phone"),
    )
    return ScriptedEvent(int(raw["id"]), _instant(raw["date"], f"{where}.date"), action, user)


def _parse_fault(raw: Any, where: str) -> Fault:
    if raw["call"] not in (*CALL_KINDS, "any"):
        raise ScenarioError(f"{where}: unknown call {raw['call']!r}")
    if raw["kind"] not in ("flood_wait", "disconnect", "banned"):
        raise ScenarioError(f"{where}: unknown fault kind {raw['kind']!r}")
    return Fault(
        _instant(raw["at"], f"{where}.at"), raw["call"], raw["kind"], float(raw.get("seconds", 0))
    )


@attrs.define
class SimClock:
    """The simulated time of a replay."""

    now: datetime


class WallClock:
    """Real time, for serving a scenario as if it were a live channel (a dry run)."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)


class Clock(Protocol):
    @property
    def now(self) -> datetime: ...


def _reaction(key: str, count: int) -> ReactionCount:
    if key == "paid":
        return ReactionCount.paid(count)
    if key.startswith("custom:"):
        return ReactionCount.custom(int(key.removeprefix("custom:")), count)
    return ReactionCount.emoji(key, count)


class ReplayGateway(TelegramGateway):
    """Answers as Telegram would for the scripted channel at the clock's time.

    Counts requests at Telegram's page sizes: 100 messages per history or replies page,
    100 admin-log events per page, 100 ids per counter refresh.
    """

    def __init__(self, scenario: Scenario, clock: Clock) -> None:
        self._sc = scenario
        self._clock = clock
        self._posts = {p.id: p for p in scenario.posts}
        self._post_ids = [p.id for p in scenario.posts]  # ascending (Scenario sorts them)
        self._faults = list(scenario.faults)
        self._banned = False
        self._requests: Counter[str] = Counter()

    def request_counts(self) -> Mapping[str, int]:
        return dict(self._requests)

    def _enter(self, kind: str, requests: int = 1) -> None:
        now = self._clock.now
        if self._banned:
            raise SessionBannedError("the replay session was banned")
        for fault in self._faults:
            if fault.at <= now and fault.call in (kind, "any"):
                self._faults.remove(fault)
                if fault.kind == "flood_wait":
                    raise RateLimitedError(
                        f"FloodWait of {fault.seconds:g} s (scripted)", fault.seconds
                    )
                if fault.kind == "disconnect":
                    raise DisconnectedError("connection lost (scripted)")
                self._banned = True
                raise SessionBannedError("the replay session was banned (scripted)")
        self._requests[kind] += requests

    def _check_channel(self, channel_id: ChannelId) -> None:
        if channel_id != self._sc.channel.id:
            raise ChannelNotFoundError(f"channel {channel_id} is not in the scenario")

    async def resolve_channel(self, query: str) -> ChannelInfo:
        ch = self._sc.channel
        if query in (ch.title, str(ch.id)) or (ch.username and query == f"@{ch.username}"):
            return ch
        raise ChannelNotFoundError(f"no channel titled {query!r} (the scenario has {ch.title!r})")

    def _post(self, p: ScriptedPost) -> Post:
        now = self._clock.now
        reactions = tuple(
            _reaction(key, line.at(now)) for key, line in p.reactions if line.at(now) > 0
        )
        comments = sum(1 for c in p.comments if c.date <= now) if p.discussion else None
        username = self._sc.channel.username
        link = (
            f"https://t.me/{username}/{p.id}"
            if username
            else f"https://t.me/c/{self._sc.channel.id}/{p.id}"
        )
        return Post(
            id=PostId(p.id),
            date=p.date,
            text=p.text,
            media=p.media,
            link=link,
            counters=PostCounters(
                PostId(p.id),
                now,
                views=p.views.at(now),
                forwards=p.forwards.at(now),
                reactions=reactions,
                comments=comments,
            ),
            has_discussion=p.discussion,
        )

    async def fetch_new_posts(self, channel_id: ChannelId, after: PostId | None) -> Sequence[Post]:
        self._check_channel(channel_id)
        now = self._clock.now
        above = self._sc.posts[bisect.bisect_right(self._post_ids, after or 0) :]
        found = [p for p in above if p.date <= now]
        # History pages run newest first and stop at min_id: a page per 100 posts, at least one.
        self._enter("posts", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [self._post(p) for p in found]

    async def fetch_posts(self, channel_id: ChannelId, ids: Sequence[PostId]) -> Sequence[Post]:
        self._check_channel(channel_id)
        if len(ids) > MAX_IDS_PER_REQUEST:
            raise ValueError(f"at most {MAX_IDS_PER_REQUEST} ids per request, got {len(ids)}")
        self._enter("counters", 1)
        now = self._clock.now
        return [
            self._post(self._posts[i])
            for i in ids
            if i in self._posts and self._posts[i].date <= now
        ]

    async def fetch_comments(
        self, channel_id: ChannelId, post_id: PostId, after: CommentId | None
    ) -> Sequence[Comment]:
        self._check_channel(channel_id)
        post = self._posts.get(post_id)
        if post is None or not post.discussion or post.date > self._clock.now:
            self._enter("comments", 1)
            raise NoDiscussionError(f"post {post_id} has no discussion group")
        now, floor = self._clock.now, after or 0
        found = [c for c in post.comments if c.date <= now and c.id > floor]
        self._enter("comments", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [
            Comment(CommentId(c.id), PostId(post_id), c.date, c.author_kind, c.author_id)
            for c in found
        ]

    async def fetch_member_events(
        self, channel_id: ChannelId, after: EventId
    ) -> Sequence[MemberEvent]:
        self._check_channel(channel_id)
        now = self._clock.now
        found = [
            e
            for e in self._sc.admin_log
            if e.id > after and e.date <= now and now - e.date < ADMIN_LOG_RETENTION
        ]
        self._enter("admin_log", max(1, math.ceil(len(found) / PAGE_SIZE)))
        return [MemberEvent(EventId(e.id), e.date, e.action, e.user) for e in found]


class SimScheduler(Scheduler):
    """Keeps follow-ups in a queue; the replay runs them at their instants.

    The same idempotency key twice schedules one run.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[datetime, str, ChannelId]] = []
        self._keys: set[str] = set()

    async def schedule(self, followup: FollowUp) -> None:
        if followup.idempotency_key in self._keys:
            return
        self._keys.add(followup.idempotency_key)
        heapq.heappush(
            self._queue, (followup.due_at, followup.idempotency_key, followup.channel_id)
        )

    def pop_due(self, until: datetime) -> list[datetime]:
        """Remove and return the instants of follow-ups due at or before ``until``."""
        due = []
        while self._queue and self._queue[0][0] <= until:
            due.append(heapq.heappop(self._queue)[0])
        return due

    def next_due(self) -> datetime | None:
        return self._queue[0][0] if self._queue else None
