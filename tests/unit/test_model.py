"""Domain values refuse impossible states and never show secrets."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.builders import at
from tgstat.domain.ids import PostId
from tgstat.domain.model import MemberAction, PostCounters, ReactionCount, SealedSession


class TestValues:
    """Validators catch naive instants and negative counts."""

    def test_naive_instant_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            PostCounters(PostId(1), datetime(2026, 11, 1))

    def test_negative_count_is_refused(self) -> None:
        with pytest.raises(ValueError, match="views must be >= 0"):
            PostCounters(PostId(1), at(), views=-1)

    def test_reaction_total_unknown_vs_none(self) -> None:
        assert PostCounters(PostId(1), at()).reactions_total is None
        assert PostCounters(PostId(1), at(), reactions=()).reactions_total == 0
        both = (ReactionCount.emoji("👍", 5), ReactionCount.paid(2))
        assert PostCounters(PostId(1), at(), reactions=both).reactions_total == 7

    def test_reaction_keys(self) -> None:
        assert ReactionCount.emoji("👍", 1).key == "👍"
        assert ReactionCount.emoji("❤️", 1).code == "U+2764-U+FE0F"
        assert ReactionCount.custom(5368324170671202286, 1).key == "custom:5368324170671202286"
        assert ReactionCount.paid(1).key == "paid"

    def test_actions_classify_link_joins(self) -> None:
        by_link = {a for a in MemberAction if a.is_by_link}
        assert by_link == {MemberAction.JOIN_BY_INVITE, MemberAction.JOIN_BY_REQUEST}
        assert not MemberAction.LEAVE.is_join
        assert MemberAction.INVITE.is_join


class TestSecrets:
    """A sealed session's repr shows no secret bytes or full phone number."""

    def test_repr(self) -> None:
        s = SealedSession("+15551234567", 1, b"HASH", b"SESSION", b"BOT")
        text = repr(s)
        assert "HASH" not in text
        assert "SESSION(" not in text.replace("SealedSession(", "")
        assert "BOT" not in text
        assert "5551234" not in text
