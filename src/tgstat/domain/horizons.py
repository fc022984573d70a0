"""Counter values at post date + 1 h / + 24 h (docs/design.md 4.2)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from tgstat.domain.ids import PostId
from tgstat.domain.model import AuthorKind, Comment, CounterSnapshot


class Horizon(enum.Enum):
    """A measurement instant relative to the post date."""

    H1 = timedelta(hours=1)
    H24 = timedelta(hours=24)

    @property
    def label(self) -> str:
        return "1h" if self is Horizon.H1 else "24h"

    def instant(self, post_date: datetime) -> datetime:
        return post_date + self.value


LONGEST_HORIZON = max(h.value for h in Horizon)


@attrs.frozen
class CommentStats:
    """Aggregates over a post's stored comments (dates compared inclusively)."""

    post_id: PostId
    users: int
    channels: int
    count_at_1h: int
    """Comments dated at or before post date + 1 h."""
    count_at_24h: int


@attrs.frozen
class HorizonValues:
    """Counter values of a post at its horizons; None: unknown (the stored value stays)."""

    post_id: PostId
    views_1h: int | None = None
    views_24h: int | None = None
    reactions_1h: int | None = None
    reactions_24h: int | None = None
    comments_1h: int | None = None
    comments_24h: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(
            v is None
            for v in (
                self.views_1h,
                self.views_24h,
                self.reactions_1h,
                self.reactions_24h,
                self.comments_1h,
                self.comments_24h,
            )
        )


def comment_stats(
    post_id: PostId, post_date: datetime, comments: Iterable[Comment]
) -> CommentStats:
    """Distinct authors and the comments dated at or before each horizon instant."""
    items = list(comments)
    at_1h, at_24h = Horizon.H1.instant(post_date), Horizon.H24.instant(post_date)
    return CommentStats(
        post_id=post_id,
        users=len({c.author_id for c in items if c.author_kind is AuthorKind.USER}),
        channels=len({c.author_id for c in items if c.author_kind is AuthorKind.CHANNEL}),
        count_at_1h=sum(1 for c in items if c.date <= at_1h),
        count_at_24h=sum(1 for c in items if c.date <= at_24h),
    )


def closest_snapshot(
    snapshots: Iterable[CounterSnapshot], instant: datetime, tolerance: timedelta
) -> CounterSnapshot | None:
    """The snapshot taken closest to ``instant``, if within ``tolerance``.

    On a tie the earlier one wins: it is the value as it stood at the instant.
    """
    best: CounterSnapshot | None = None
    for snap in snapshots:
        distance = abs(snap.taken_at - instant)
        if distance > tolerance:
            continue
        if best is None or (distance, snap.taken_at) < (
            abs(best.taken_at - instant),
            best.taken_at,
        ):
            best = snap
    return best


def bracketed_views(around: Iterable[CounterSnapshot], instant: datetime) -> int | None:
    """Views at ``instant`` from snapshots far from it: known exactly when the last one
    before and the first one after show the same count (views never go down), else None."""
    snaps = sorted(around, key=lambda s: s.taken_at)
    before = [s for s in snaps if s.taken_at <= instant]
    after = [s for s in snaps if s.taken_at >= instant]
    if not before or not after:
        return None
    low, high = before[-1].views, after[0].views
    return low if low is not None and low == high else None


def horizon_values(
    post_id: PostId,
    post_date: datetime,
    snapshots: Iterable[CounterSnapshot],
    comments: CommentStats | None,
    has_discussion: bool,
    now: datetime,
    tolerance: timedelta,
    *,
    thread_readable: bool = True,
    around: Iterable[CounterSnapshot] = (),
) -> HorizonValues:
    """The values of every horizon whose instant has come (``<= now``); others None.

    Views and reactions come from the snapshot closest to the instant within the
    tolerance (None when no snapshot is that close: never observed). Comments are those
    dated at or before the instant (0 when a post with a discussion has none stored);
    None when the post has no discussion group or its thread could not be read
    (``thread_readable`` False): unknown is never zero (docs/design.md 4.2a). With no
    snapshot that close (a follow-up run that never happened), views are still exact when
    the snapshots ``around`` the instant bracket it with one count (``bracketed_views``).
    """
    nearby = list(around)
    snaps = list(snapshots)
    values: dict[str, int | None] = {}
    for horizon in Horizon:
        instant = horizon.instant(post_date)
        if instant > now:
            continue
        snap = closest_snapshot(snaps, instant, tolerance)
        label = horizon.label
        values[f"views_{label}"] = snap.views if snap else bracketed_views(nearby, instant)
        values[f"reactions_{label}"] = snap.reactions if snap else None
        if not thread_readable:
            continue
        if comments is not None:
            values[f"comments_{label}"] = (
                comments.count_at_1h if horizon is Horizon.H1 else comments.count_at_24h
            )
        elif has_discussion:
            values[f"comments_{label}"] = 0
    return HorizonValues(post_id, **values)
