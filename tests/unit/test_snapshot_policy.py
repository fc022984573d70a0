"""domain.snapshots: a settled post's read is snapshotted when a counter changed, an album
all or nothing, a post inside its horizons always."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tests.builders import post
from tgstat.domain.ids import PostId
from tgstat.domain.model import Post
from tgstat.domain.snapshots import Counters, counters_changed, worth_a_snapshot

COUNTS = st.one_of(st.none(), st.integers(0, 3))


@st.composite
def reads(draw: st.DrawFn) -> tuple[list[Post], dict[PostId, Counters | None]]:
    """Up to 8 posts (some in albums of the same grouped_id) and, for the settled ones,
    the counters of their last snapshot."""
    posts: list[Post] = []
    last: dict[PostId, Counters | None] = {}
    for i in range(1, draw(st.integers(1, 8)) + 1):
        p = post(i, views=draw(COUNTS), comments=draw(COUNTS))
        p = attrs.evolve(p, grouped_id=draw(st.sampled_from([None, 1, 2])))
        posts.append(p)
        if draw(st.booleans()):
            last[p.id] = draw(
                st.one_of(st.none(), st.tuples(COUNTS, st.just(1), st.just(0), COUNTS))
            )
    return posts, last


class TestWorthASnapshot:
    @given(reads())
    def test_posts_inside_their_horizons_are_always_kept(self, case) -> None:  # type: ignore[no-untyped-def]
        posts, last = case
        kept = {p.id for p in worth_a_snapshot(posts, last)}
        assert {p.id for p in posts if p.id not in last} <= kept

    @given(reads())
    def test_a_changed_read_is_kept_an_album_whole(self, case) -> None:  # type: ignore[no-untyped-def]
        posts, last = case
        kept = {p.id for p in worth_a_snapshot(posts, last)}
        for p in posts:
            if p.id in last and counters_changed(p, last[p.id]):
                assert p.id in kept
            if p.grouped_id is not None and p.id in kept:
                album = {q.id for q in posts if q.grouped_id == p.grouped_id}
                assert album <= kept

    @given(reads())
    def test_nothing_else_is_kept(self, case) -> None:  # type: ignore[no-untyped-def]
        posts, last = case
        changed = [p for p in posts if p.id not in last or counters_changed(p, last[p.id])]
        albums = {p.grouped_id for p in changed if p.grouped_id is not None}
        for p in worth_a_snapshot(posts, last):
            assert p in changed or p.grouped_id in albums


class TestCountersChanged:
    def test_an_unreported_counter_is_no_change(self) -> None:
        assert not counters_changed(post(1, views=None, comments=None), (10, 1, 0, 0))

    def test_a_reported_difference_is(self) -> None:
        assert counters_changed(post(1, views=11), (10, 1, 0, 0))
        assert counters_changed(post(1, views=10), None)  # no snapshot yet
        assert not counters_changed(post(1, views=10), (10, 1, 0, 0))
