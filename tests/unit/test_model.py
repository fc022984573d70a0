"""Domain values refuse impossible states and never show secrets."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.builders import at
from tgstat.domain.ids import EventId, PostId, UserId
from tgstat.domain.model import (
    InviteLink,
    MemberAction,
    MemberEvent,
    PostCounters,
    ReactionCount,
    SealedSession,
    UserProfile,
)


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
        link = InviteLink("https://t.me/+AbC", "Spring ads")
        by_link = {
            (a, invite is not None)
            for a in MemberAction
            for invite in (None, link)
            if MemberEvent(EventId(1), at(), a, UserProfile(UserId(7)), invite).is_by_link
        }
        # a join request made through the public username (no link) is not by link
        assert by_link == {
            (MemberAction.JOIN_BY_INVITE, False),
            (MemberAction.JOIN_BY_INVITE, True),
            (MemberAction.JOIN_BY_REQUEST, True),
        }
        assert not MemberAction.LEAVE.is_join
        assert not MemberAction.KICK.is_join
        assert MemberAction.INVITE.is_join

    def test_profile_update_keeps_what_the_newer_one_does_not_know(self) -> None:
        known = UserProfile(UserId(7), "Ann", None, "ann", premium=True, bot=False)
        missing = UserProfile(UserId(7))  # Telegram left the user object out
        assert known.updated_by(missing) == known
        renamed = UserProfile(UserId(7), "Anna", premium=False)
        assert known.updated_by(renamed) == UserProfile(
            UserId(7), "Anna", None, "ann", premium=False, bot=False
        )


class TestSecrets:
    """A sealed session's repr shows no secret bytes or full phone number."""

    def test_repr(self) -> None:
        s = SealedSession("+15551234567", 1, b"HASH", b"SESSION", b"BOT")
        text = repr(s)
        assert "HASH" not in text
        assert "SESSION(" not in text.replace("SealedSession(", "")
        assert "BOT" not in text
        assert "5551234" not in text
