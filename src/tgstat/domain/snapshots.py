"""Which reads of a post become a counter snapshot (``stat_post_snapshot``; docs/design.md
4.4): every read of a post inside its horizons, a read of a settled one only when a counter
changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from tgstat.domain.ids import PostId
from tgstat.domain.model import CounterSnapshot, Post

Counters = tuple[int | None, int | None, int | None, int | None]
"""(views, forwards, reactions in all, comments); None: unknown."""


def counters_of(snapshot: CounterSnapshot) -> Counters:
    return (snapshot.views, snapshot.forwards, snapshot.reactions, snapshot.comments)


def worth_a_snapshot(posts: Sequence[Post], last: Mapping[PostId, Counters | None]) -> list[Post]:
    """``posts`` but the settled ones (the keys of ``last``: their last snapshot's counters,
    None when they have none) read unchanged. An album is kept whole when one of its
    messages changed: its curve takes the highest views of its messages at each instant."""
    changed = [p for p in posts if p.id not in last or counters_changed(p, last[p.id])]
    albums = {p.grouped_id for p in changed if p.grouped_id is not None}
    kept = {p.id for p in changed}
    return [
        p for p in posts if p.id in kept or (p.grouped_id is not None and p.grouped_id in albums)
    ]


def counters_changed(post: Post, last: Counters | None) -> bool:
    """Whether a counter Telegram reported for ``post`` differs from ``last`` (an unreported
    counter, None, changes nothing: the stored value is kept); no snapshot yet: changed."""
    if last is None:
        return True
    c = post.counters
    fresh = (c.views, c.forwards, c.reactions_total, c.comments)
    return any(f is not None and f != k for f, k in zip(fresh, last, strict=True))


def snapshot_of(post: Post, now: datetime) -> CounterSnapshot:
    """The counters of ``post`` stamped with the cycle's instant ``now``: follow-ups run
    exactly at horizon instants, so their snapshots measure the horizon exactly."""
    c = post.counters
    return CounterSnapshot(post.id, now, c.views, c.forwards, c.reactions_total, c.comments)
