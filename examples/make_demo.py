"""Write examples/demo-channel.json: a realistic 3-day channel for ``tgstat replay``.

Deterministic: one seeded ``random.Random``, no wall clock. The format is docs/scenario-format.md,
real Telegram shapes included: albums, a deleted post, anonymous and sender-less comments,
removals by admins, titled invite links (and a chat folder one, and public join requests),
bots added by admins, and the subscriber count over time.
Run ``python examples/make_demo.py`` to regenerate (the same bytes every time);
``--start now --out FILE`` writes one on the wall clock for a dry run (see ``--help``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20261101
OUT = Path(__file__).resolve().parent / "demo-channel.json"

CHANNEL = {"id": 1999000003, "title": "tgstat demo", "username": "tgstat_demo"}
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 3
POSTS_PER_DAY = 20
FIRST_POST_ID = 1201
FIRST_COMMENT_ID = 8001
FIRST_EVENT_ID = 3_400_000_001
EVENTS_BEFORE_START = 8
EVENTS_PER_3_DAYS = 292

EMOJI = (("👍", 0.5), ("❤", 0.25), ("🔥", 0.15), ("😁", 0.10))
CUSTOM_EMOJI = ("5368324170671202286", "5377305978079288312", "5420315771991497307")
MEDIA = (
    (None, 35),
    ("photo", 30),
    ("video", 12),
    ("webpage", 12),
    ("document", 6),
    ("poll", 5),
)
TOPICS = (
    "Weekly digest",
    "Release notes",
    "How we measure reach",
    "Behind the scenes",
    "Question of the day",
    "Chart of the day",
    "Reading list",
    "Community spotlight",
    "Short tip",
    "Event announcement",
)
FIRST_NAMES = ("Ann", "Boris", "Chen", "Dana", "Emil", "Farah", "Gleb", "Hana", "Ivan", "Jule")
LAST_NAMES = ("Lee", "Novak", "Ito", "Moreau", "Petrov", "Silva", "Khan", "Berg")
COMMENT_CHANNELS = (1888000011, 1888000042, 1888000077)
ALBUMS = 3
"""Posts that become albums: 2-4 photo/video messages sharing one grouped_id."""
FIRST_GROUPED_ID = 13_571_113_171_923_000
INVITE_LINKS = (
    ("https://t.me/+Xs9mQ2aLk3Bh", "Spring ads"),
    ("https://t.me/+pT7vNc1Ke0Jw", "Partner: Data Weekly"),
    ("https://t.me/+Zr4bHf8Wd2Qs", None),
)
FOLDER_LINK = ("https://t.me/+Fo1derN3wsAb", None)
"""The channel's link inside a shared chat folder: joins through it are ``via_chatlist``."""
SUBSCRIBERS_BEFORE = 12_480
"""The subscriber count before the admin log's window; later ones follow the log."""


@dataclass(frozen=True)
class Window:
    """The channel's days: ``days`` calendar days (UTC) from ``start``'s midnight."""

    start: datetime = START
    days: int = DAYS
    posts_per_day: int = POSTS_PER_DAY

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reach(hours: float) -> float:
    """Share of a post's final views reached ``hours`` after publication (saturating)."""
    return 0.82 * (1 - math.exp(-hours / 2.5)) + 0.18 * (1 - math.exp(-hours / 30))


def sample_times(post: datetime, rng: random.Random, end: datetime) -> list[datetime]:
    """Observation points: every 10-30 min for 2 h, hourly to 12 h, then every few hours."""
    out, t = [], post + timedelta(minutes=rng.randint(2, 6))
    while t < post + timedelta(hours=2):
        out.append(t)
        t += timedelta(minutes=rng.randint(10, 30))
    t = post + timedelta(hours=2)
    while t < post + timedelta(hours=12):
        out.append(t)
        t += timedelta(minutes=rng.randint(50, 70))
    while t < end:
        out.append(t)
        t += timedelta(hours=rng.randint(3, 5), minutes=rng.randint(0, 59))
    return [x for x in out if x < end]


def timeline(post: datetime, times: list[datetime], final: int) -> list[list[Any]]:
    """Points of ``final * reach``, only where the value changes."""
    out: list[list[Any]] = []
    for t in times:
        value = round(final * reach((t - post).total_seconds() / 3600))
        if value > 0 and (not out or value != out[-1][1]):
            out.append([iso(t), value])
    return out


def make_posts(rng: random.Random, commenters: list[int], window: Window) -> list[dict[str, Any]]:
    dates = []
    for day in range(window.days):
        minutes = sorted(rng.sample(range(8 * 60, 22 * 60), window.posts_per_day))
        dates += [window.start + timedelta(days=day, minutes=m) for m in minutes]
    media_kinds, weights = zip(*MEDIA, strict=True)
    post_id = FIRST_POST_ID
    posts: list[dict[str, Any]] = []
    pending_comments: list[tuple[datetime, int, dict[str, Any]]] = []
    no_discussion, albums, deleted = _special(rng, len(dates))
    for i, date in enumerate(dates):
        media = rng.choices(media_kinds, weights)[0]
        views = int(rng.lognormvariate(math.log(2500), 0.45))
        times = sample_times(date, rng, window.end)
        post: dict[str, Any] = {
            "id": post_id,
            "date": iso(date),
            "text": f"{rng.choice(TOPICS)} #{i + 1}",
            "media": media,
            "views": timeline(date, times, views),
            "forwards": timeline(date, times[::2], int(views * rng.uniform(0.004, 0.02))),
        }
        total = int(views * rng.uniform(0.015, 0.05))
        reactions = {
            key: line
            for key, share in EMOJI
            if (line := timeline(date, times[::2], int(total * share * rng.uniform(0.6, 1.4))))
        }
        if rng.random() < 0.2:
            for key in rng.sample(CUSTOM_EMOJI, rng.randint(1, 2)):
                reactions[f"custom:{key}"] = timeline(date, times[3::3], rng.randint(1, 6))
        if rng.random() < 0.12:
            reactions["paid"] = timeline(date, times[4::4], rng.randint(1, 10))
        post["reactions"] = {k: v for k, v in reactions.items() if v}
        gone = None
        if i == deleted:  # deleted by an admin within 20-90 minutes
            gone = date + timedelta(minutes=rng.randint(20, 90))
            post["deleted_at"] = iso(gone)
        if i in no_discussion:
            post["discussion"] = False
        else:
            post["comments"] = []
            for _ in range(min(20, int(rng.expovariate(1.0) * views / 400))):
                at = date + timedelta(seconds=int(rng.expovariate(1 / 5400)) + 20)
                if at < min(window.end, gone or window.end):
                    pending_comments.append((at, post_id, comment_author(rng, commenters)))
        posts.append(post)
        if i in albums:  # photos or videos, the first with the caption
            post.update(grouped_id=FIRST_GROUPED_ID + i, media=rng.choice(("photo", "video")))
            for n in range(rng.randint(1, 3)):  # the album's other messages
                post_id += 1
                posts.append(album_message(rng, post, post_id, times, views, n))
        post_id += rng.choice((1, 1, 1, 2))
    # discussion-group message ids grow with time across all threads
    by_id = {p["id"]: p for p in posts}
    for n, (at, pid, author) in enumerate(sorted(pending_comments, key=lambda c: (c[0], c[1]))):
        by_id[pid]["comments"].append({"id": FIRST_COMMENT_ID + n, "date": iso(at), **author})
    return posts


def _special(rng: random.Random, count: int) -> tuple[set[int], set[int], int]:
    """Indices of the posts without a discussion, of the album posts, and of the deleted one."""
    chosen = rng.sample(range(count), 2 + ALBUMS + 1)
    return set(chosen[:2]), set(chosen[2:-1]), chosen[-1]


def comment_author(rng: random.Random, commenters: list[int]) -> dict[str, Any]:
    """Mostly users; some post as a channel, a few as the group's anonymous admin, and
    rarely Telegram names no sender."""
    r = rng.random()
    if r < 0.08:
        return {"channel_id": rng.choice(COMMENT_CHANNELS)}
    if r < 0.11:
        return {"anonymous": True}
    if r < 0.12:
        return {}
    return {"user_id": commenters[int(rng.paretovariate(1.2)) % len(commenters)]}


def album_message(
    rng: random.Random,
    first: dict[str, Any],
    post_id: int,
    times: list[datetime],
    views: int,
    n: int,
) -> dict[str, Any]:
    """Message ``n + 2`` of the album of ``first``: same date and grouped_id, its own views
    (a little fewer: not everyone swipes), no text, reactions or thread."""
    date = datetime.fromisoformat(first["date"])
    return {
        "id": post_id,
        "date": first["date"],
        "grouped_id": first["grouped_id"],
        "text": None,
        "media": rng.choice(("photo", "photo", "video")),
        "views": timeline(date, times, int(views * (0.9 - 0.08 * n))),
        "discussion": False,
    }


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


def check(scenario: dict[str, Any], window: Window) -> None:
    """The demo shows every shape it is meant to (a new seed could lose one)."""
    log = scenario["admin_log"]
    assert {e["action"] for e in log} == {
        "join",
        "join_by_invite",
        "join_by_request",
        "invite",
        "leave",
        "kick",
    }
    ids = [e["id"] for e in log]
    dates = [e["date"] for e in log]
    assert ids == sorted(set(ids))
    assert dates == sorted(set(dates))
    assert dates[0] >= iso(window.start - timedelta(hours=48))
    seen: dict[int, list[str]] = {}
    for e in log:
        seen.setdefault(e["user"]["id"], []).append(e["action"])
    rejoins = [a for a in seen.values() if "leave" in a[1:-1] and a[0] != "leave"]
    assert any(a[-1] in ("join_by_invite", "join_by_request") for a in rejoins)
    assert any(a == ["leave"] for a in seen.values())
    assert any(a[0] != "leave" and "kick" in a for a in seen.values())
    invites = [e.get("invite") for e in log if e["action"] == "join_by_request"]
    assert None in invites
    assert any(invites)
    links = [e["invite"] for e in log if e["action"] == "join_by_invite"]
    assert any(i["title"] for i in links)
    assert any(i["via_chatlist"] for i in links)
    assert any(e["user"].get("bot") for e in log)
    posts = scenario["posts"]
    assert [p["id"] for p in posts] == sorted(p["id"] for p in posts)
    assert any(p.get("discussion") is False for p in posts)
    albums: dict[int, list[dict[str, Any]]] = {}
    for p in posts:
        if "grouped_id" in p:
            albums.setdefault(p["grouped_id"], []).append(p)
    assert len(albums) == ALBUMS
    assert all(len(a) >= 2 and len({p["date"] for p in a}) == 1 for a in albums.values())
    assert sum("deleted_at" in p for p in posts) == 1
    senders = ("user_id", "channel_id", "anonymous")
    kinds = {
        next((k for k in senders if k in c), "none") for p in posts for c in p.get("comments", [])
    }
    assert kinds == {*senders, "none"}
    for p in posts:
        comments = p.get("comments", [])
        cids = [c["id"] for c in comments]
        assert cids == sorted(set(cids))
        assert all(p["date"] < c["date"] < p.get("deleted_at", "~") for c in comments)
    counts = [n for _, n in scenario["channel"]["subscribers"]]
    assert min(counts) > 0


def render(scenario: dict[str, Any]) -> str:
    """Readable JSON: one line per channel field, post field and admin-log event; the
    subscriber timeline six points a line."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    channel = scenario["channel"]
    points = [dump(p) for p in channel["subscribers"]]
    rows = [", ".join(points[i : i + 6]) for i in range(0, len(points), 6)]
    fields = [f"{dump(k)}: {dump(v)}" for k, v in channel.items() if k != "subscribers"]
    fields.append('"subscribers": [' + ",\n    ".join(rows) + "]")
    head = [' "channel": {' + ",\n  ".join(fields) + "},"]
    head += [f" {dump(k)}: {dump(scenario[k])}," for k in ("start", "end", "interval_s")]
    posts = []
    for p in scenario["posts"]:
        fields = [f"{dump(k)}: {dump(v)}" for k, v in p.items()]
        posts.append("  {" + ",\n   ".join(fields) + "}")
    events = [f"  {dump(e)}" for e in scenario["admin_log"]]
    return "\n".join(
        [
            "{",
            *head,
            ' "posts": [',
            ",\n".join(posts),
            " ],",
            ' "admin_log": [',
            ",\n".join(events),
            " ]",
            "}",
            "",
        ]
    )


def parse_start(text: str) -> datetime:
    """``now`` (today, UTC) or a date ``YYYY-MM-DD``: the channel's first day, from midnight."""
    if text == "now":
        day = datetime.now(UTC).date()
    else:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected now or YYYY-MM-DD, got {text!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a demo scenario for `tgstat replay` (docs/scenario-format.md): a"
        " channel with albums, a deleted post, removals, titled invite links and a subscriber"
        " timeline. Deterministic for a given --start, --days, --posts and --seed. With no"
        " option it rewrites examples/demo-channel.json (3 days from 2026-11-01); with"
        " --start now the days are today's and the next ones, for a dry run of the served flow"
        " on the wall clock (TGSTAT_REPLAY_SCENARIO).",
    )
    parser.add_argument(
        "--start",
        type=parse_start,
        default=START,
        help="first day: now (today, UTC) or YYYY-MM-DD (default: 2026-11-01)",
    )
    parser.add_argument("--days", type=positive, default=DAYS, help=f"days (default {DAYS})")
    parser.add_argument(
        "--posts",
        type=positive,
        default=POSTS_PER_DAY,
        help=f"posts a day, at most 840 (default {POSTS_PER_DAY})",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument(
        "--out",
        type=Path,
        help=f"where to write it, - for stdout (default: {OUT.name} here, only for the"
        " default demo)",
    )
    args = parser.parse_args(argv)
    window = Window(args.start, args.days, args.posts)
    default_shape = (args.days, args.posts, args.seed) == (DAYS, POSTS_PER_DAY, SEED)
    if args.out is None and (window != Window() or args.seed != SEED):
        parser.error(f"give --out: {OUT.name} is the committed demo")
    if args.posts > 14 * 60 or args.days * args.posts < 2 + ALBUMS + 1:
        parser.error(f"--posts: 1 to 840 a day, and at least {2 + ALBUMS + 1} in all")
    rng = random.Random(args.seed)  # reproducible demo data, not secrets
    admin_log, commenters = make_admin_log(rng, window)
    scenario = {
        "channel": {**CHANNEL, "subscribers": subscribers(admin_log, window)},
        "start": iso(window.start),
        "end": iso(window.end),
        "interval_s": 300,
        "posts": make_posts(rng, commenters, window),
        "admin_log": admin_log,
    }
    if default_shape:  # other sizes and seeds may lack a shape or two
        check(scenario, window)
    text = render(scenario)
    assert json.loads(text) == scenario
    if str(args.out) == "-":
        sys.stdout.write(text)
        return
    out = args.out or OUT
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()
