"""Scripted posts and their comments (docs/scenario-format.md ``posts``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from tgstat.adapters.replay.fields import (
    ScenarioError,
    Timeline,
    flag,
    instant,
    integer,
    items,
    obj,
    shown,
    text,
)
from tgstat.domain.model import AuthorKind

MAX_REACTION_KEY_CHARS = 64
"""A reaction key: an emoji (a few code points) or ``custom:`` and a document id (<= 20
digits); a longer one is no Telegram reaction (and would overflow the index of stat_reaction)."""
DISCUSSION_GROUP_BASE = 2_000_000_000_000
"""Scenarios do not name the discussion group; its id is this plus the channel id (far above
any real channel id, so it never equals a scripted ``channel_id`` author)."""


def discussion_group_id(channel_id: int) -> int:
    """The id of the scripted channel's discussion group: the sender Telegram gives for a
    comment of an anonymous group admin (``"anonymous": true``)."""
    return DISCUSSION_GROUP_BASE + channel_id


@attrs.frozen
class ScriptedComment:
    id: int
    date: datetime
    author_kind: AuthorKind
    author_id: int | None
    """None for a comment Telegram gives no sender for (AuthorKind.NONE)."""


@attrs.frozen
class ScriptedPost:
    id: int
    date: datetime
    text: str | None
    media: str | None
    views: Timeline
    forwards: Timeline
    reactions: tuple[tuple[str, Timeline], ...]
    comments: tuple[ScriptedComment, ...]
    discussion: bool
    grouped_id: int | None = None
    deleted_at: datetime | None = None
    thread_unreadable: bool = False

    def visible_at(self, moment: datetime) -> bool:
        """Published and not deleted at ``moment``."""
        return self.date <= moment and not self.deleted_at_or_before(moment)

    def deleted_at_or_before(self, moment: datetime) -> bool:
        return self.deleted_at is not None and self.deleted_at <= moment


def parse_post(raw: Mapping[str, Any], where: str, group: int) -> ScriptedPost:
    date = instant(raw.get("date"), f"{where}.date")
    comments = tuple(
        _parse_comment(obj(c, f"{where}.comments[{i}]"), f"{where}.comments[{i}]", group)
        for i, c in enumerate(items(raw.get("comments"), f"{where}.comments"))
    )
    if len({c.id for c in comments}) != len(comments):
        raise ScenarioError(f"{where}.comments: comment ids must be unique")
    reacted = obj(raw.get("reactions", {}), f"{where}.reactions")
    reactions = tuple(
        (key, Timeline.parse(line, f"{where}.reactions.{key}"))
        for key, line in sorted(reacted.items())
    )
    for key, _ in reactions:
        if not 0 < len(key) <= MAX_REACTION_KEY_CHARS:
            raise ScenarioError(
                f"{where}.reactions: a key is an emoji or custom:<document id>,"
                f" 1 to {MAX_REACTION_KEY_CHARS} characters, got {shown(key)}"
            )
        if key.startswith("custom:") and not key.removeprefix("custom:").isdigit():
            raise ScenarioError(f"{where}.reactions: bad custom emoji key {shown(key)}")
    discussion = flag(raw, "discussion", where, default=True)
    unreadable = flag(raw, "thread_unreadable", where)
    if unreadable and not discussion:
        raise ScenarioError(
            f"{where}.thread_unreadable: a post without a discussion has no thread to read"
        )
    deleted_at = None
    if raw.get("deleted_at") is not None:
        deleted_at = instant(raw["deleted_at"], f"{where}.deleted_at")
        if deleted_at < date:
            raise ScenarioError(f"{where}.deleted_at: before the post's date")
    grouped = raw.get("grouped_id")
    return ScriptedPost(
        id=integer(raw.get("id"), f"{where}.id"),
        date=date,
        text=text(raw, "text", where),
        media=text(raw, "media", where),
        views=Timeline.parse(raw.get("views"), f"{where}.views"),
        forwards=Timeline.parse(raw.get("forwards"), f"{where}.forwards"),
        reactions=reactions,
        comments=tuple(sorted(comments, key=lambda c: c.id)),
        discussion=discussion,
        grouped_id=None if grouped is None else integer(grouped, f"{where}.grouped_id"),
        deleted_at=deleted_at,
        thread_unreadable=unreadable,
    )


def _parse_comment(raw: Mapping[str, Any], where: str, group: int) -> ScriptedComment:
    senders = [k for k in ("user_id", "channel_id") if raw.get(k) is not None]
    anonymous = flag(raw, "anonymous", where)
    if len(senders) > 1:
        raise ScenarioError(f"{where}: a comment has user_id or channel_id, not both")
    if anonymous and senders:
        raise ScenarioError(
            f"{where}.anonymous: an anonymous admin's comment has no {senders[0]}"
            " (its sender is the discussion group)"
        )
    kind, author = AuthorKind.NONE, None
    if anonymous:
        kind, author = AuthorKind.ANONYMOUS, group
    elif senders == ["user_id"]:
        kind, author = AuthorKind.USER, integer(raw["user_id"], f"{where}.user_id")
    elif senders == ["channel_id"]:
        kind, author = AuthorKind.CHANNEL, integer(raw["channel_id"], f"{where}.channel_id")
        if author == group:
            raise ScenarioError(
                f"{where}.channel_id: {author} is the discussion group; write"
                ' "anonymous": true for an anonymous admin'
            )
    return ScriptedComment(
        integer(raw.get("id"), f"{where}.id"),
        instant(raw.get("date"), f"{where}.date"),
        kind,
        author,
    )
