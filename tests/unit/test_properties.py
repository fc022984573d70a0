"""Hypothesis properties of the domain rules (docs/design.md 4)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import CHANNEL, T0, post
from tests.strategies import event_logs
from tgstat.domain.horizons import Horizon, closest_snapshot, comment_stats, horizon_values
from tgstat.domain.ids import CommentId, EventId, PostId, UserId
from tgstat.domain.membership import merge_events
from tgstat.domain.model import (
    AuthorKind,
    Comment,
    CounterSnapshot,
    MemberAction,
    MemberEvent,
    Membership,
)
from tgstat.domain.planning import batches, plan_followups

NO_EVENT = EventId(0)


class Store:
    """Applies merge results like the repository does: by pk, or appended."""

    def __init__(self) -> None:
        self.rows: list[Membership] = []
        self.cursor = NO_EVENT

    def latest(self) -> dict[UserId, Membership]:
        return {m.user.id: m for m in self.rows}

    def apply(self, events: Sequence[MemberEvent]) -> None:
        result = merge_events(CHANNEL, self.latest(), events, self.cursor)
        for e in result.episodes:
            if e.pk is None:
                self.rows.append(attrs.evolve(e, pk=len(self.rows) + 1))
            else:
                self.rows[e.pk - 1] = e
        self.cursor = result.cursor

    def table(self) -> list[tuple[object, ...]]:
        return sorted(
            (
                (
                    m.user.id,
                    m.joined_at or T0,
                    m.left_at or T0,
                    m.joined_at is None,
                    m.left_at is None,
                    m.is_joined_by_link,
                    m.is_removed_by_admin,
                    m.invite_link,
                    m.invite_link_title,
                    m.user,
                )
                for m in self.rows
            ),
            key=repr,  # profiles do not order; their repr does, and equal rows sort alike
        )


class TestMembershipProperties:
    """The merger is batch-invariant, idempotent past the cursor, and never overlaps."""

    @given(event_logs(), st.data())
    def test_split_anywhere_equals_whole(
        self, events: list[MemberEvent], data: st.DataObject
    ) -> None:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
        whole, split = Store(), Store()
        whole.apply(events)
        for lo, hi in zip([0, *cuts], [*cuts, len(events)], strict=True):
            split.apply(events[lo:hi])
        assert split.table() == whole.table()
        assert split.cursor == whole.cursor

    @given(event_logs(), st.data())
    def test_reapplying_at_or_below_cursor_changes_nothing(
        self, events: list[MemberEvent], data: st.DataObject
    ) -> None:
        store = Store()
        store.apply(events)
        before = (store.table(), store.cursor)
        replayed = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
        store.apply(replayed)
        assert (store.table(), store.cursor) == before

    @given(event_logs())
    def test_episodes_of_a_user_never_overlap(self, events: list[MemberEvent]) -> None:
        store = Store()
        store.apply(events)
        by_user: dict[UserId, list[Membership]] = {}
        for m in store.rows:
            by_user.setdefault(m.user.id, []).append(m)
        for episodes in by_user.values():
            assert sum(1 for e in episodes if e.is_open and e.joined_at is not None) <= 1
            for earlier, later in itertools.pairwise(episodes):
                # the earlier episode is closed, and closed before the later one opens
                assert earlier.left_at is not None
                if later.joined_at is not None:
                    assert earlier.left_at <= later.joined_at

    @given(event_logs())
    def test_the_last_exit_says_who_ended_the_episode(self, events: list[MemberEvent]) -> None:
        store = Store()
        store.apply(events)
        latest = store.latest()
        for uid in {e.user.id for e in events}:
            last = [e for e in events if e.user.id == uid][-1]
            episode = latest[uid]
            if last.action is MemberAction.KICK:
                assert (episode.left_at, episode.is_removed_by_admin) == (last.date, True)
            elif last.action is MemberAction.LEAVE:
                assert (episode.left_at, episode.is_removed_by_admin) == (last.date, False)
            else:
                assert episode.is_open
                assert episode.is_removed_by_admin is None

    @given(event_logs())
    def test_cursor_is_the_highest_applied_id(self, events: list[MemberEvent]) -> None:
        store = Store()
        store.apply(events)
        assert store.cursor == max((e.id for e in events), default=NO_EVENT)


def step(points: Sequence[tuple[datetime, int]], at: datetime) -> int:
    value = 0
    for t, v in sorted(points):
        if t <= at:
            value = v
    return value


MINUTES = st.integers(min_value=0, max_value=30 * 60)


class TestHorizonProperties:
    """Horizon values equal the scripted counters at the instant when measured there."""

    @given(
        st.lists(st.tuples(MINUTES, st.integers(0, 10**6)), max_size=8),
        st.lists(MINUTES, max_size=12),
        st.sampled_from(list(Horizon)),
    )
    def test_value_at_instant_when_a_snapshot_exists_there(
        self, points: list[tuple[int, int]], other_times: list[int], horizon: Horizon
    ) -> None:
        timeline = [(T0 + timedelta(minutes=m), v) for m, v in points]
        instant = horizon.instant(T0)
        taken = {instant, *(T0 + timedelta(minutes=m) for m in other_times)}
        snaps = [
            CounterSnapshot(PostId(1), t, views=step(timeline, t), reactions=step(timeline, t))
            for t in taken
        ]
        values = horizon_values(
            PostId(1), T0, snaps, None, False, instant + timedelta(days=2), timedelta(minutes=5)
        )
        label = horizon.label
        assert getattr(values, f"views_{label}") == step(timeline, instant)
        assert getattr(values, f"reactions_{label}") == step(timeline, instant)

    @given(st.lists(MINUTES, max_size=10), st.integers(1, 30))
    def test_never_outside_tolerance(self, minutes: list[int], tol: int) -> None:
        instant = T0 + timedelta(hours=5)
        snaps = [CounterSnapshot(PostId(1), T0 + timedelta(minutes=m), views=m) for m in minutes]
        best = closest_snapshot(snaps, instant, timedelta(minutes=tol))
        if best is None:
            assert all(abs(s.taken_at - instant) > timedelta(minutes=tol) for s in snaps)
        else:
            assert abs(best.taken_at - instant) <= timedelta(minutes=tol)
            assert all(abs(best.taken_at - instant) <= abs(s.taken_at - instant) for s in snaps)

    @given(st.lists(st.integers(-3, 3), max_size=12), st.sampled_from(list(Horizon)))
    def test_comment_window_is_inclusive(self, offsets: list[int], horizon: Horizon) -> None:
        instant = horizon.instant(T0)
        comments = [
            Comment(CommentId(i + 1), PostId(1), instant + timedelta(seconds=o), AuthorKind.USER, i)
            for i, o in enumerate(offsets)
        ]
        stats = comment_stats(PostId(1), T0, comments)
        count = stats.count_at_1h if horizon is Horizon.H1 else stats.count_at_24h
        assert count == sum(1 for o in offsets if o <= 0)

    @given(st.integers(0, 26 * 60))
    def test_future_horizons_stay_unknown(self, minutes_after: int) -> None:
        now = T0 + timedelta(minutes=minutes_after)
        snaps = [
            CounterSnapshot(PostId(1), T0 + timedelta(minutes=m), views=m)
            for m in range(0, 26 * 60, 5)
        ]
        values = horizon_values(PostId(1), T0, snaps, None, True, now, timedelta(minutes=5))
        assert (values.views_1h is None) == (now < Horizon.H1.instant(T0))
        assert (values.views_24h is None) == (now < Horizon.H24.instant(T0))


class TestUnknownIsNeverZero:
    """A horizon nobody observed stays None (docs/design.md 4.2a), whatever else is known."""

    @given(
        st.lists(st.integers(-3000, 3000), max_size=12),
        st.integers(0, 60 * 30),
        st.booleans(),
        st.booleans(),
        st.integers(0, 5),
    )
    def test_unobserved_horizons_are_none(
        self,
        snap_minutes: list[int],
        now_minutes: int,
        has_discussion: bool,
        readable: bool,
        stored_comments: int,
    ) -> None:
        tol = timedelta(minutes=5)
        now = T0 + timedelta(minutes=now_minutes)
        snaps = [
            CounterSnapshot(PostId(1), T0 + timedelta(minutes=m), views=0, reactions=0)
            for m in snap_minutes
            if T0 + timedelta(minutes=m) <= now
        ]
        stats = (
            comment_stats(
                PostId(1),
                T0,
                [
                    Comment(CommentId(i + 1), PostId(1), T0, AuthorKind.NONE, None)
                    for i in range(stored_comments)
                ],
            )
            if stored_comments and readable and has_discussion
            else None
        )
        values = horizon_values(
            PostId(1), T0, snaps, stats, has_discussion, now, tol, thread_readable=readable
        )
        for h in Horizon:
            instant = h.instant(T0)
            seen = instant <= now and closest_snapshot(snaps, instant, tol) is not None
            views = getattr(values, f"views_{h.label}")
            assert (views is not None) == seen
            comments = getattr(values, f"comments_{h.label}")
            counted = instant <= now and has_discussion and readable
            assert (comments is not None) == counted


class TestPlanningProperties:
    """Follow-ups only in the future with unique keys; requests of at most 100 ids."""

    @given(st.lists(st.integers(1, 10_000), unique=True, max_size=30), st.integers(0, 48 * 60))
    def test_followups_future_and_unique(self, ids: list[int], now_minutes: int) -> None:
        now = T0 + timedelta(minutes=now_minutes)
        posts = [post(i, date=T0 + timedelta(minutes=i % 2000)) for i in ids]
        plan = plan_followups(CHANNEL, posts, now)
        assert all(f.due_at > now for f in plan)
        keys = [f.key for f in plan]
        assert len(keys) == len(set(keys))
        expected = sum(1 for p in posts for h in Horizon if h.instant(p.date) > now)
        assert len(plan) == expected

    @given(
        st.lists(
            st.tuples(st.integers(1, 10_000), st.sampled_from([None, 1, 2, 3])),
            unique_by=lambda x: x[0],
            max_size=30,
        ),
        st.integers(0, 48 * 60),
    )
    def test_an_album_is_planned_once_per_instant(
        self, posts_in: list[tuple[int, int | None]], now_minutes: int
    ) -> None:
        now = T0 + timedelta(minutes=now_minutes)
        # the messages of an album are published together
        album_date = {g: T0 + timedelta(minutes=60 * g) for g in (1, 2, 3)}
        posts = [
            attrs.evolve(
                post(i, date=album_date[g] if g else T0 + timedelta(minutes=i % 2000)),
                grouped_id=g,
            )
            for i, g in posts_in
        ]
        plan = plan_followups(CHANNEL, posts, now)
        subjects = [(f.grouped_id or f"post{f.post_id}", f.horizon) for f in plan]
        assert len(subjects) == len(set(subjects))
        for g in {g for _, g in posts_in if g is not None}:
            first = min(i for i, gg in posts_in if gg == g)
            expected = {h for h in Horizon if h.instant(album_date[g]) > now}
            assert {f.horizon for f in plan if f.grouped_id == g} == expected
            assert all(f.post_id == first for f in plan if f.grouped_id == g)

    @given(st.lists(st.integers(1, 10**6), max_size=450))
    def test_batches_cover_in_order_and_cap_at_100(self, ids: list[int]) -> None:
        pids = [PostId(i) for i in ids]
        chunks = batches(pids)
        assert all(1 <= len(c) <= 100 for c in chunks)
        assert [i for c in chunks for i in c] == pids
