"""New-post detection, follow-up planning and collection planning (docs/design.md 4.3, 4.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from tgstat.domain.horizons import LONGEST_HORIZON, Horizon
from tgstat.domain.ids import ChannelId, PostId, SessionPk
from tgstat.domain.model import Post

MAX_IDS_PER_REQUEST = 100
"""Telegram answers at most 100 message ids per GetMessages request."""


@attrs.frozen
class FollowUp:
    """An extra collection of a channel at a post's horizon instant."""

    channel_id: ChannelId
    post_id: PostId
    """The post, or for an album its first message seen."""
    horizon: Horizon
    due_at: datetime
    grouped_id: int | None = None
    """The album's ``grouped_id``: one follow-up per album and instant."""

    @property
    def key(self) -> str:
        """Unique per channel, post (or album) and horizon: the ``stat_followup`` row."""
        subject = self.post_id if self.grouped_id is None else f"album{self.grouped_id}"
        return f"tgstat:{self.channel_id}:{subject}:{self.horizon.label}"


def new_posts(posts: Iterable[Post], max_stored_id: PostId | None) -> list[Post]:
    """Posts above the highest stored id, ascending by id."""
    floor = 0 if max_stored_id is None else max_stored_id
    return sorted((p for p in posts if p.id > floor), key=lambda p: p.id)


def publications(posts: Iterable[Post]) -> list[Post]:
    """The first message (lowest id) of each album, and every post not in an album, by id."""
    first: dict[int, Post] = {}
    single: list[Post] = []
    for p in sorted(posts, key=lambda p: p.id):
        if p.grouped_id is None:
            single.append(p)
        else:
            first.setdefault(p.grouped_id, p)
    return sorted([*single, *first.values()], key=lambda p: p.id)


def plan_followups(channel_id: ChannelId, posts: Iterable[Post], now: datetime) -> list[FollowUp]:
    """One follow-up per publication (a post, or an album: docs/design.md 4.5) and horizon whose
    instant is still in the future. A follow-up run refreshes every post in its horizons,
    so one run per album and instant measures all of its messages."""
    return [
        FollowUp(channel_id, p.id, h, h.instant(p.date), p.grouped_id)
        for p in publications(posts)
        for h in Horizon
        if h.instant(p.date) > now
    ]


MINUTE = timedelta(minutes=1)


def minute_of(instant: datetime) -> datetime:
    """``instant`` truncated to its minute (same zone)."""
    return instant.replace(second=0, microsecond=0)


@attrs.frozen
class FollowUpRun:
    """One flow run that measures every follow-up of one session due in one minute
    (docs/design.md 4.3): a burst of posts, an album, or many channels of the session
    publishing in the same minute cost one run.

    The run does not carry a frozen work list: when it starts it measures every follow-up
    of the session's channels that is due by the end of its minute and not measured yet, so
    follow-ups added after the run was created (a second channel whose instant falls in the
    same minute: Prefect returns the existing run for a known key) and overdue ones of runs
    that crashed are measured too.
    """

    session_pk: SessionPk
    phone: str = attrs.field(repr=False)
    """The session's phone (``config__tg_bot_session_pool.phone_number``): the run uses
    this session and is created on its deployment. Never logged in full."""
    minute: datetime
    """The minute the run measures (seconds zero); part of the idempotency key."""
    channel_ids: tuple[ChannelId, ...]
    """Channels with a follow-up in this minute when the run was planned (for the UI)."""
    instants: tuple[datetime, ...]
    """The follow-ups' instants within ``minute``, ascending, distinct; a follow-up planned
    after its instant counts at the instant it was planned."""

    @property
    def at(self) -> datetime:
        """When the run starts: its latest instant, so every follow-up it was planned with
        is due (the earlier ones are measured at most 59 s late, within the tolerance)."""
        return self.instants[-1]

    @property
    def due_by(self) -> datetime:
        """The run measures follow-ups due at or before this instant: its minute's end."""
        return self.minute + MINUTE - timedelta(microseconds=1)

    @property
    def idempotency_key(self) -> str:
        """One per session and minute: planning the same minute twice makes one run."""
        minute = self.minute.astimezone(UTC)
        return f"tgstat:followups:{self.session_pk}:{minute:%Y-%m-%dT%H:%MZ}"


def plan_runs(
    followups: Iterable[FollowUp], session_pk: SessionPk, phone: str, now: datetime
) -> list[tuple[FollowUpRun, list[FollowUp]]]:
    """The follow-ups grouped into one run per minute, by minute, each with its members.

    A follow-up whose instant has passed (re-planned: its run crashed or never came) is
    planned at ``now``: its run is keyed by the current minute, never by the minute of the
    run that did not measure it, which the scheduler would return as it is.
    """
    groups: dict[datetime, list[tuple[datetime, FollowUp]]] = {}
    for f in followups:
        at = max(f.due_at, now)
        groups.setdefault(minute_of(at), []).append((at, f))
    return [
        (
            FollowUpRun(
                session_pk,
                phone,
                minute,
                tuple(sorted({f.channel_id for _, f in members})),
                tuple(sorted({at for at, _ in members})),
            ),
            [f for _, f in members],
        )
        for minute, members in sorted(groups.items())
    ]


def refresh_window_start(now: datetime, tolerance: timedelta) -> datetime:
    """Posts published at or after this instant still have a horizon to measure."""
    return now - LONGEST_HORIZON - tolerance


def batches(ids: Sequence[PostId], size: int = MAX_IDS_PER_REQUEST) -> list[list[PostId]]:
    """``ids`` split into requests of at most ``size`` ids, order kept."""
    if size < 1:
        raise ValueError("batch size must be positive")
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


@attrs.frozen
class RefreshPlan:
    """Which stored posts a cycle re-reads, in requests of at most 100 ids."""

    recent: tuple[PostId, ...]
    """Posts inside their horizons: refreshed every cycle."""
    rotating: tuple[PostId, ...]
    """A slice of older posts, so all-time values stay fresh."""
    next_rotation_cursor: PostId | None
    """Where the next slice of older posts starts (below this id); None: from the top."""

    @property
    def requests(self) -> list[list[PostId]]:
        """Every planned id once (a recent post may also be in the rotating slice)."""
        return batches(list(dict.fromkeys([*self.recent, *self.rotating])))


def plan_refresh(
    recent: Iterable[PostId],
    older_slice: Sequence[PostId],
    slice_size: int,
) -> RefreshPlan:
    """Refresh every recent post plus the given slice of older ones (descending ids).

    A slice shorter than ``slice_size`` reached the oldest post: the next rotation starts
    again from the newest old post.
    """
    rotating = tuple(older_slice[:slice_size])
    wrapped = len(older_slice) < slice_size or not rotating
    return RefreshPlan(
        recent=tuple(sorted(set(recent))),
        rotating=rotating,
        next_rotation_cursor=None if wrapped else rotating[-1],
    )


THREAD_RETRY = timedelta(hours=1)
"""An unreadable comment thread is tried again at most this often."""


def comments_to_read(
    stored_counts: Mapping[PostId, int | None],
    fresh: Iterable[Post],
    *,
    unreadable_since: Mapping[PostId, datetime] | None = None,
    now: datetime | None = None,
    retry_every: timedelta = THREAD_RETRY,
) -> list[Post]:
    """Posts with a discussion whose thread is to be read now.

    A thread is read when its comment count changed since the last collection (a post
    seen for the first time counts as changed when it has any comment). A thread that
    could not be read (``unreadable_since``) is tried again once ``retry_every`` has
    passed, changed or not, and not before.
    """
    unreadable = unreadable_since or {}
    changed = []
    for post in fresh:
        count = post.counters.comments
        if not post.has_discussion or count is None:
            continue
        failed_at = unreadable.get(post.id)
        if failed_at is not None:
            if now is None or now - failed_at >= retry_every:
                changed.append(post)
            continue
        before = stored_counts.get(post.id)
        if (before is None and count > 0) or (before is not None and before != count):
            changed.append(post)
    return changed
