"""Scripted admin-log events (docs/scenario-format.md ``admin_log``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from tgstat.adapters.replay.fields import (
    ScenarioError,
    flag,
    instant,
    integer,
    maybe_flag,
    obj,
    shown,
    text,
)
from tgstat.domain.ids import UserId
from tgstat.domain.model import InviteLink, MemberAction, UserProfile


@attrs.frozen
class ScriptedEvent:
    id: int
    date: datetime
    action: MemberAction
    user: UserProfile
    """As Telegram answers it: the id alone when ``user_missing``."""
    invite: InviteLink | None = None


LINK_NOT_SCRIPTED = InviteLink(None)
"""The invite of a ``join_by_request`` written without ``invite`` (the format before invite
objects): through a link, which one unknown."""

_INVITE_ACTIONS = (MemberAction.JOIN_BY_INVITE, MemberAction.JOIN_BY_REQUEST)


def parse_event(raw: Mapping[str, Any], where: str) -> ScriptedEvent:
    name = raw.get("action")
    if not isinstance(name, str) or name not in {a.value for a in MemberAction}:
        raise ScenarioError(f"{where}.action: unknown action {shown(name)}")
    action = MemberAction(name)
    u = obj(raw.get("user"), f"{where}.user")
    user_id = UserId(integer(u.get("id"), f"{where}.user.id"))
    if flag(raw, "user_missing", where):
        # Telegram's answer leaves the user object out: only the id is known.
        user = UserProfile(user_id)
    else:
        user = UserProfile(
            user_id,
            text(u, "first_name", f"{where}.user"),
            text(u, "last_name", f"{where}.user"),
            text(u, "username", f"{where}.user"),
            maybe_flag(u, "premium", f"{where}.user"),
            maybe_flag(u, "scam", f"{where}.user"),
            maybe_flag(u, "verified", f"{where}.user"),
            text(u, "phone", f"{where}.user"),
            # A user object always says whether the account is a bot.
            bot=flag(u, "bot", f"{where}.user"),
        )
    return ScriptedEvent(
        integer(raw.get("id"), f"{where}.id"),
        instant(raw.get("date"), f"{where}.date"),
        action,
        user,
        _parse_invite(raw, action, where),
    )


def _parse_invite(raw: Mapping[str, Any], action: MemberAction, where: str) -> InviteLink | None:
    if "invite" not in raw:
        if action is MemberAction.JOIN_BY_REQUEST:
            # Before invite objects, a join_by_request meant "through a link"; which one
            # is not scripted.
            return LINK_NOT_SCRIPTED
        return None
    if action not in _INVITE_ACTIONS:
        raise ScenarioError(f"{where}.invite: only join_by_invite and join_by_request have one")
    invite = raw["invite"]
    if invite is None:
        if action is MemberAction.JOIN_BY_INVITE:
            raise ScenarioError(f"{where}.invite: a join by invite always has a link")
        return None  # a request through the public username: not by link
    inv = obj(invite, f"{where}.invite")
    link = inv.get("link")
    if not isinstance(link, str) or not link:
        raise ScenarioError(f"{where}.invite.link: expected a non-empty string, got {shown(link)}")
    return InviteLink(
        link, text(inv, "title", f"{where}.invite"), flag(inv, "via_chatlist", f"{where}.invite")
    )
