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
from typing import Any, NoReturn

from demo_admin_log import make_admin_log, subscribers
from demo_shape import ALBUMS, check, iso, render

SEED = 20261101
OUT = Path(__file__).resolve().parent / "demo-channel.json"

CHANNEL = {"id": 1999000003, "title": "tgstat demo", "username": "tgstat_demo"}
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 3
MAX_DAYS = 366
POSTS_PER_DAY = 20
FIRST_POST_ID = 1201
FIRST_COMMENT_ID = 8001

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
COMMENT_CHANNELS = (1888000011, 1888000042, 1888000077)
FIRST_GROUPED_ID = 13_571_113_171_923_000


@dataclass(frozen=True)
class Window:
    """The channel's days: ``days`` calendar days (UTC) from ``start``'s midnight."""

    start: datetime = START
    days: int = DAYS
    posts_per_day: int = POSTS_PER_DAY

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


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


def day_count(text: str) -> int:
    value = positive(text)  # bounded: a longer scenario takes ages to make and to replay
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DAYS} days, got {value}")
    return value


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (``make_demo.py: error: ...``, exit 2), as tgstat's own."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(
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
    parser.add_argument(
        "--days", type=day_count, default=DAYS, help=f"days, at most {MAX_DAYS} (default {DAYS})"
    )
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
    if args.posts > 14 * 60 or args.days * args.posts < 2 + ALBUMS + 1:
        parser.error(f"--posts: 1 to 840 a day, and at least {2 + ALBUMS + 1} in all")
    if args.out is None and (window != Window() or args.seed != SEED):
        parser.error(f"give --out: {OUT.name} is the committed demo")
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
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        parser.error(f"cannot write {out}: {e.strerror or e}")
    print(f"wrote {out} ({len(text.encode())} bytes)")


if __name__ == "__main__":
    main()
