"""The subscription-event merger (docs/design.md 4.1): admin-log events -> membership episodes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from tgstat.domain.ids import ChannelId, EventId, UserId
from tgstat.domain.model import MemberAction, MemberEvent, Membership


@attrs.frozen
class MergeResult:
    """What merging a batch of events changes.

    ``episodes`` holds every episode the batch touched, each in its final state: stored ones
    (with a pk) to update, new ones (pk None) to insert, in the order they happened.
    """

    episodes: tuple[Membership, ...]
    cursor: EventId
    applied: int


def merge_events(
    channel_id: ChannelId,
    latest: Mapping[UserId, Membership],
    events: Iterable[MemberEvent],
    cursor: EventId,
) -> MergeResult:
    """Apply events above ``cursor``, in ascending id, to the users' latest episodes.

    A join opens an episode unless the latest one is still open (which keeps its
    ``joined_at``, link flag and invite link); a leave or an admin's removal (``KICK``, which
    sets ``is_removed_by_admin``) closes the open episode, or records an exit whose join was
    never observed (``joined_at`` None). Every event refreshes the profile fields it knows
    (an event whose user object Telegram left out knows only the id).
    Events at or below the cursor are ignored, so re-applying a batch changes nothing.
    """
    pending = sorted((e for e in events if e.id > cursor), key=lambda e: e.id)
    touched: dict[UserId, list[Membership]] = {}
    for event in pending:
        uid = event.user.id
        history = touched.get(uid)
        current = history[-1] if history else latest.get(uid)
        replaced, opened = _apply(channel_id, current, event)
        if history is None:
            history = touched[uid] = []
        if replaced is not None:
            if history and current is history[-1]:
                history[-1] = replaced
            else:
                history.append(replaced)
        if opened is not None:
            history.append(opened)
    episodes = tuple(e for history in touched.values() for e in history)
    new_cursor = EventId(max([cursor, *(e.id for e in pending)]))
    return MergeResult(episodes, new_cursor, len(pending))


def _apply(
    channel_id: ChannelId, current: Membership | None, event: MemberEvent
) -> tuple[Membership | None, Membership | None]:
    """(the current episode updated, or None; a newly opened episode, or None)."""
    user = event.user if current is None else current.user.updated_by(event.user)
    if event.action.is_join:
        if current is not None and current.is_open:
            return attrs.evolve(current, user=user), None
        return None, Membership(
            channel_id=channel_id,
            user=user,
            joined_at=event.date,
            left_at=None,
            is_joined_by_link=event.is_by_link,
            invite_link=event.invite.link if event.invite else None,
            invite_link_title=event.invite.title if event.invite else None,
        )
    removed = event.action is MemberAction.KICK
    if current is not None and current.is_open:
        closed = attrs.evolve(current, user=user, left_at=event.date, is_removed_by_admin=removed)
        return closed, None
    return None, Membership(
        channel_id=channel_id,
        user=user,
        joined_at=None,
        left_at=event.date,
        is_joined_by_link=None,
        is_removed_by_admin=removed,
    )
