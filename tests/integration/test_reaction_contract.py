"""replace_reactions, fake and PostgreSQL alike: exact by default, additive for a replay of
the past."""

from __future__ import annotations

import psycopg
import pytest

from tests.builders import CHANNEL, at, post
from tests.fakes import FakeStatRepository
from tests.integration.test_repository_contract import _any_repo  # noqa: F401  (fixture)
from tgstat.domain.ids import PostId
from tgstat.domain.model import ReactionCount
from tgstat.ports.repository import StatRepository

LIKE, FIRE, PAID = ReactionCount.emoji("👍", 3), ReactionCount.emoji("🔥", 1), ReactionCount.paid(2)


def stored(repo: StatRepository, request: pytest.FixtureRequest) -> list[tuple[str, int]]:
    """Post 1's reactions as (code, count), read behind the repository's back."""
    if isinstance(repo, FakeStatRepository):
        rows = [(r.code, r.count) for r in repo.state.reactions.get((CHANNEL, PostId(1)), ())]
    else:
        with psycopg.connect(request.getfixturevalue("db_url")) as conn:
            rows = conn.execute(
                "SELECT reaction_emoticon_code, reaction_count FROM stat_reaction"
                " WHERE tg_channel_id = %s AND tg_post_id = 1",
                (CHANNEL,),
            ).fetchall()
    return sorted((str(c), int(n)) for c, n in rows)


class TestReplaceReactions:
    async def test_exact_unless_absent_ones_are_kept(
        self, any_repo: StatRepository, request: pytest.FixtureRequest
    ) -> None:
        async with any_repo.session() as s:
            async with s.transaction():
                await s.upsert_posts(CHANNEL, [post(1)], at(0))
                await s.replace_reactions(CHANNEL, {PostId(1): [LIKE, FIRE]}, at(0))
            async with s.transaction():  # a read of an earlier instant: FIRE not yet given
                await s.replace_reactions(
                    CHANNEL, {PostId(1): [ReactionCount.emoji("👍", 2)]}, at(1), keep_absent=True
                )
        assert stored(any_repo, request) == sorted([(LIKE.code, 2), (FIRE.code, 1)])
        async with any_repo.session() as s, s.transaction():
            await s.replace_reactions(CHANNEL, {PostId(1): [PAID]}, at(2))
        assert stored(any_repo, request) == [(PAID.code, 2)]
