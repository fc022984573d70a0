"""Membership episodes of channel users and the admin-log cursor: the MembershipStore port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from tgstat.adapters.postgres.connection import PostgresConnection
from tgstat.domain.ids import ChannelId, EventId, UserId
from tgstat.domain.model import Membership, UserProfile
from tgstat.ports.membership_store import MembershipStore

_UPDATE_MEMBERSHIP = """
UPDATE stat_user SET first_name = %(first_name)s,
    last_name = %(last_name)s, user_name = %(user_name)s,
    premium = %(premium)s, scam = %(scam)s, verified = %(verified)s,
    phone = %(phone)s, bot = %(bot)s, "timestamp" = %(at)s, joined_at = %(joined_at)s,
    left_at = %(left_at)s, is_joined_by_link = %(by_link)s,
    is_removed_by_admin = %(removed)s, invite_link = %(invite_link)s,
    invite_link_title = %(invite_link_title)s
WHERE pk = %(pk)s AND tg_channel_id = %(channel)s
"""

_INSERT_MEMBERSHIP = """
INSERT INTO stat_user (
    tg_user_id, tg_channel_id, first_name, last_name, user_name, premium,
    scam, verified, phone, bot, "timestamp", joined_at, left_at, is_joined_by_link,
    is_removed_by_admin, invite_link, invite_link_title)
VALUES (%(user_id)s, %(channel)s, %(first_name)s, %(last_name)s,
    %(user_name)s, %(premium)s, %(scam)s, %(verified)s, %(phone)s, %(bot)s, %(at)s,
    %(joined_at)s, %(left_at)s, %(by_link)s, %(removed)s, %(invite_link)s,
    %(invite_link_title)s)
"""

_LATEST_MEMBERSHIPS = """
SELECT DISTINCT ON (tg_user_id)
       pk, tg_user_id, first_name, last_name, user_name, premium, scam, verified, phone, bot,
       joined_at, left_at, is_joined_by_link, is_removed_by_admin, invite_link,
       invite_link_title
FROM stat_user
WHERE tg_channel_id = %(c)s AND tg_user_id = ANY(%(users)s)
ORDER BY tg_user_id, "timestamp" DESC, pk DESC
"""


class PostgresMembershipStore(PostgresConnection, MembershipStore):
    """MembershipStore over ``stat_user`` and the admin-log cursor of ``config__tg_channel``."""

    async def latest_memberships(
        self, channel_id: ChannelId, user_ids: Collection[UserId]
    ) -> Mapping[UserId, Membership]:
        rows = await self._fetchall(_LATEST_MEMBERSHIPS, {"c": channel_id, "users": list(user_ids)})
        return {UserId(r[1]): _to_membership(channel_id, r) for r in rows}

    async def save_memberships(
        self, channel_id: ChannelId, episodes: Sequence[Membership], at: datetime
    ) -> None:
        updates = [_membership_params(channel_id, e, at) for e in episodes if e.pk is not None]
        inserts = [_membership_params(channel_id, e, at) for e in episodes if e.pk is None]
        # Close episodes before opening new ones: at most one open episode per user.
        await self._executemany(_UPDATE_MEMBERSHIP, updates)
        await self._executemany(_INSERT_MEMBERSHIP, inserts)

    async def advance_admin_log_cursor(self, channel_id: ChannelId, cursor: EventId) -> None:
        await self._execute(
            "UPDATE config__tg_channel SET admin_log_cursor = GREATEST(admin_log_cursor, %(v)s),"
            " updated_at = now() WHERE tg_channel_id = %(c)s",
            {"c": channel_id, "v": cursor},
        )


def _to_membership(channel_id: ChannelId, row: Sequence[Any]) -> Membership:
    (
        pk,
        user_id,
        first,
        last,
        username,
        premium,
        scam,
        verified,
        phone,
        bot,
        joined_at,
        left_at,
        by_link,
        removed,
        invite_link,
        invite_link_title,
    ) = row
    return Membership(
        channel_id=channel_id,
        user=UserProfile(
            UserId(user_id),
            first_name=first,
            last_name=last,
            username=username,
            premium=premium,
            scam=scam,
            verified=verified,
            phone=phone,
            bot=bot,
        ),
        joined_at=joined_at,
        left_at=left_at,
        is_joined_by_link=by_link,
        pk=pk,
        is_removed_by_admin=removed,
        invite_link=invite_link,
        invite_link_title=invite_link_title,
    )


def _membership_params(channel_id: ChannelId, e: Membership, at: datetime) -> dict[str, Any]:
    return {
        "pk": e.pk,
        "channel": channel_id,
        "user_id": e.user.id,
        "first_name": e.user.first_name,
        "last_name": e.user.last_name,
        "user_name": e.user.username,
        "premium": e.user.premium,
        "scam": e.user.scam,
        "verified": e.user.verified,
        "phone": e.user.phone,
        "bot": e.user.bot,
        "at": at,
        "joined_at": e.joined_at,
        "left_at": e.left_at,
        "by_link": e.is_joined_by_link,
        "removed": e.is_removed_by_admin,
        "invite_link": e.invite_link,
        "invite_link_title": e.invite_link_title,
    }
