"""One suite, two gateways: ReplayGateway must answer like TelethonGateway over Telegram.

Both are loaded with the same channel; only what both can know is compared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telethon.tl import types

from tests.telethon_canned import (
    PUBLIC_REQUEST,
    CannedTelegram,
    canned_client,
    channel,
    comment,
    invite_link,
    member_event,
    post,
    reactions,
    thread,
    user,
)
from tgstat.adapters.replay import ReplayGateway, Scenario, SimClock, discussion_group_id
from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId, UserId
from tgstat.domain.model import Comment, InviteLink, MemberEvent, Post, UserProfile
from tgstat.ports.gateway import (
    ChannelNotFoundError,
    NoDiscussionError,
    PostsRead,
    TelegramGateway,
    ThreadUnreadableError,
)

CH = ChannelId(1234567890)
DISCUSSION = discussion_group_id(CH)
"""Replay's discussion group of CH; the canned Telegram's group has the same id, so an
anonymous admin's comment (sent as the group) names the same author in both."""
ALBUM = 13_571_113_171_923_293
SUBSCRIBERS = 1234
START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = START + timedelta(days=1)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


# The channel both gateways serve: (id, hours, text, media, views, forwards, reactions,
# comments as (id, hours, "user"|"channel"|"anonymous"|"none", author id), discussion,
# shape) where shape is {"grouped_id": ...} (an album message), {"deleted": True} (gone
# before NOW) or {"unreadable": True} (its thread answers MSG_ID_INVALID).
POSTS: list[tuple[Any, ...]] = [
    (
        1,
        1,
        "First",
        "photo",
        350,
        4,
        {"👍": 5, "custom:5368324170671202286": 1, "paid": 3},
        [
            (501, 1.5, "user", 42),
            (502, 2, "channel", 777),
            (503, 3, "user", 43),
            (505, 3.5, "anonymous", DISCUSSION),
            (506, 3.6, "none", None),
        ],
        True,
        {},
    ),
    (2, 2, None, None, 120, 0, {}, [], False, {}),
    (3, 5, "Third", None, 40, 1, {"❤": 2}, [(504, 6, "user", 42)], True, {}),
    (4, 7, "Quiet", "photo", 7, 0, {}, [], True, {}),
    (5, 8, "Album", "photo", 90, 0, {"🔥": 2}, [], True, {"grouped_id": ALBUM}),
    (6, 8, None, "photo", 80, 0, {}, [], False, {"grouped_id": ALBUM}),
    (7, 8, None, "photo", 70, 0, {}, [], False, {"grouped_id": ALBUM}),
    (8, 9, "Gone", None, 5, 0, {}, [], True, {"deleted": True}),
    (9, 10, "Broken", None, 12, 0, {}, [(507, 10.5, "user", 42)], True, {"unreadable": True}),
]
LAST_POST = PostId(9)
# (id, hours, action, user id, invite link as (link, title, via_chatlist) or None)
EVENTS: list[tuple[Any, ...]] = [
    (9001, 0.5, "join", 42, None),
    (9002, 1, "join_by_invite", 43, ("https://t.me/+canned", None, False)),
    (9003, 2, "join_by_request", 44, ("https://t.me/+canned", None, False)),
    (9004, 3, "invite", 45, None),
    (9005, 4, "leave", 42, None),
    (9006, 5, "kick", 43, None),
    (9007, 6, "join_by_invite", 46, ("https://t.me/+Spring", "Spring ads", False)),
    (9008, 7, "join_by_invite", 47, ("https://t.me/+Folder", None, True)),
    (9009, 8, "join_by_request", 48, None),  # through the public username
    (9010, 9, "join", 49, None),  # Telegram leaves this user's object out
    (9011, 10, "invite", 50, None),  # a bot, added by an admin
]
USERS = {42: "Ann", 43: "Bob", 44: "Cy", 45: "Di", 46: "Eve", 47: "Fay", 48: "Gus", 50: "Hal"}
BOTS = {50}
MISSING_USER = 49
ADMIN = 1


def _iso(t: datetime) -> str:
    return t.isoformat()


def _replay_comment(cid: int, hours: float, kind: str, author: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "date": _iso(at(hours))}
    if kind == "anonymous":
        out["anonymous"] = True
    elif kind != "none":
        out[f"{kind}_id"] = author
    return out


def _replay_post(row: tuple[Any, ...]) -> dict[str, Any]:
    pid, h, text, media, views, forwards, reacted, comments, discussion, shape = row
    out = {
        "id": pid,
        "date": _iso(at(h)),
        "text": text,
        "media": media,
        "views": [[_iso(at(h)), views]],
        "forwards": [[_iso(at(h)), forwards]],
        "reactions": {k: [[_iso(at(h)), n]] for k, n in reacted.items()},
        "comments": [_replay_comment(*c) for c in comments],
        "discussion": discussion,
        "grouped_id": shape.get("grouped_id"),
        "thread_unreadable": shape.get("unreadable", False),
    }
    if shape.get("deleted"):
        out["deleted_at"] = _iso(at(h + 0.5))
    return out


def _replay_event(eid: int, h: float, action: str, uid: int, link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": eid, "date": _iso(at(h)), "action": action}
    out["user"] = {
        "id": uid,
        "first_name": USERS.get(uid),
        "last_name": None,
        "username": None,
        "premium": False,
        "scam": False,
        "verified": False,
        "phone": None,
        "bot": uid in BOTS,
    }
    if uid == MISSING_USER:
        out["user_missing"] = True
    if action in ("join_by_invite", "join_by_request"):
        out["invite"] = (
            None
            if link is None
            else dict(zip(("link", "title", "via_chatlist"), link, strict=True))
        )
    return out


def replay_gateway() -> ReplayGateway:
    raw = {
        "channel": {
            "id": CH,
            "title": "Demo channel",
            "username": "demo_channel",
            "subscribers": [[_iso(START), SUBSCRIBERS - 10], [_iso(at(12)), SUBSCRIBERS]],
        },
        "start": _iso(START),
        "end": _iso(NOW),
        "posts": [_replay_post(row) for row in POSTS],
        "admin_log": [_replay_event(*e) for e in EVENTS],
    }
    return ReplayGateway(Scenario.parse(raw), SimClock(NOW))


def _tl_reactions(reacted: dict[str, int]) -> types.MessageReactions | None:
    if not reacted:
        return None
    emoji = {k: n for k, n in reacted.items() if k != "paid" and not k.startswith("custom:")}
    custom = {int(k.removeprefix("custom:")): n for k, n in reacted.items() if "custom:" in k}
    return reactions(emoji, custom, reacted.get("paid", 0))


def _tl_author(kind: str, author: int | None) -> types.TypePeer | None:
    if kind == "user":
        return types.PeerUser(author)
    if kind in ("channel", "anonymous"):  # anonymous: the discussion group itself
        return types.PeerChannel(author)
    return None


def _tl_event(eid: int, h: float, action: str, uid: int, link: Any) -> types.ChannelAdminLogEvent:
    if action not in ("join_by_invite", "join_by_request"):
        return member_event(eid, at(h), action, uid, admin_id=ADMIN)
    if link is None:
        return member_event(eid, at(h), action, uid, admin_id=ADMIN, invite=PUBLIC_REQUEST)
    url, title, via_chatlist = link
    return member_event(
        eid,
        at(h),
        action,
        uid,
        admin_id=ADMIN,
        invite=invite_link(url, title),
        via_chatlist=via_chatlist,
    )


def canned_telegram() -> CannedTelegram:
    users = {uid: user(uid, name, bot=uid in BOTS or None) for uid, name in USERS.items()}
    telegram = CannedTelegram(
        dialogs=[channel(CH, "Demo channel", "demo_channel")],
        discussions={CH: channel(DISCUSSION, "Demo chat", broadcast=False)},
        users={**users, ADMIN: user(ADMIN, "Admin")},  # MISSING_USER left out
        subscribers={CH: SUBSCRIBERS},
    )
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    for pid, h, text, media, views, forwards, reacted, comments, discussion, shape in POSTS:
        telegram.history.setdefault(CH, []).append(
            post(
                CH,
                pid,
                at(h),
                message=text or "",
                media=photo if media == "photo" else None,
                views=views,
                forwards=forwards,
                reactions=_tl_reactions(reacted),
                replies=thread(len(comments), DISCUSSION) if discussion else None,
                grouped_id=shape.get("grouped_id"),
            )
        )
        if discussion and not shape.get("unreadable"):
            telegram.threads[(CH, pid)] = [
                comment(DISCUSSION, cid, at(ch), _tl_author(kind, author))
                for cid, ch, kind, author in comments
            ]
        if shape.get("deleted"):
            telegram.delete(CH, pid)
    telegram.admin_log[CH] = [_tl_event(*e) for e in EVENTS]
    return telegram


@pytest.fixture(name="gateway", params=["replay", "telethon"])
async def _gateway(request: pytest.FixtureRequest) -> TelegramGateway:
    if request.param == "replay":
        return replay_gateway()
    gateway = TelethonGateway(canned_client(canned_telegram()))
    await gateway.resolve_channel("Demo channel")
    return gateway


def _post(p: Post) -> tuple[Any, ...]:
    c = p.counters
    reacted = sorted((r.key, r.count) for r in c.reactions or ())
    return (p.id, p.date, p.text, p.media, p.link, c.views, c.forwards, c.comments, reacted)


def _posts(posts: Any) -> list[tuple[Any, ...]]:
    return [(*_post(p), p.has_discussion, p.grouped_id) for p in posts]


def _comment(c: Comment) -> tuple[Any, ...]:
    return (c.id, c.post_id, c.date, c.author_kind, c.author_id)


def _event(e: MemberEvent) -> tuple[Any, ...]:
    return (e.id, e.date, e.action, e.user.id, e.invite, e.is_by_link)


def _link(n: int) -> str:
    return f"https://t.me/demo_channel/{n}"


EXPECTED_POSTS = [
    (
        1,
        at(1),
        "First",
        "photo",
        _link(1),
        350,
        4,
        5,
        [("custom:5368324170671202286", 1), ("paid", 3), ("👍", 5)],
        True,
        None,
    ),
    (2, at(2), None, None, _link(2), 120, 0, None, [], False, None),
    (3, at(5), "Third", None, _link(3), 40, 1, 1, [("❤", 2)], True, None),
    (4, at(7), "Quiet", "photo", _link(4), 7, 0, 0, [], True, None),
    # an album: three messages, one grouped_id; the first carries text, reactions, thread
    (5, at(8), "Album", "photo", _link(5), 90, 0, 0, [("🔥", 2)], True, ALBUM),
    (6, at(8), None, "photo", _link(6), 80, 0, None, [], False, ALBUM),
    (7, at(8), None, "photo", _link(7), 70, 0, None, [], False, ALBUM),
    # post 8 was deleted: not listed
    # an unreadable thread still reports its counter
    (9, at(10), "Broken", None, _link(9), 12, 0, 1, [], True, None),
]
CANNED_LINK = InviteLink("https://t.me/+canned")


def profile(uid: int) -> UserProfile:
    """The user as both gateways know it: the full profile, or the id alone when the
    answer left the user object out."""
    if uid == MISSING_USER:
        return UserProfile(UserId(uid))
    return UserProfile(
        UserId(uid),
        first_name=USERS[uid],
        premium=False,
        scam=False,
        verified=False,
        bot=uid in BOTS,
    )


class TestGatewayContract:
    """ReplayGateway and TelethonGateway give the same domain answers for one channel."""

    async def test_resolve_channel(self, gateway: TelegramGateway) -> None:
        """By title, @username and id; an unknown title is not found."""
        for query in ("Demo channel", "@demo_channel", str(CH)):
            info = await gateway.resolve_channel(query)
            assert (info.id, info.title, info.username) == (CH, "Demo channel", "demo_channel")
        with pytest.raises(ChannelNotFoundError):
            await gateway.resolve_channel("Nope")

    async def test_new_posts(self, gateway: TelegramGateway) -> None:
        """All posts ascending, or only those above ``after``; a deleted post is gone."""
        assert _posts(await gateway.fetch_new_posts(CH, None)) == EXPECTED_POSTS
        assert _posts(await gateway.fetch_new_posts(CH, PostId(2))) == EXPECTED_POSTS[2:]
        assert await gateway.fetch_new_posts(CH, LAST_POST) == []

    async def test_posts_by_id(self, gateway: TelegramGateway) -> None:
        """Asked order kept; a deleted post and an unknown id answer empty: deleted."""
        found = await gateway.fetch_posts(CH, [PostId(3), PostId(99), PostId(1), PostId(8)])

        assert isinstance(found, PostsRead)
        assert _posts(found.posts) == [EXPECTED_POSTS[2], EXPECTED_POSTS[0]]
        assert found.deleted == {PostId(99), PostId(8)}

    async def test_comments(self, gateway: TelegramGateway) -> None:
        """Ascending, authors of every kind kept, ``after`` exclusive; an empty thread is
        empty."""
        every = await gateway.fetch_comments(CH, PostId(1), None)
        newer = await gateway.fetch_comments(CH, PostId(1), CommentId(501))

        assert [_comment(c) for c in every] == [
            (501, 1, at(1.5), "user", 42),
            (502, 1, at(2), "channel", 777),
            (503, 1, at(3), "user", 43),
            (505, 1, at(3.5), "anonymous", DISCUSSION),  # sent as the discussion group
            (506, 1, at(3.6), "none", None),  # no sender at all
        ]
        assert [c.id for c in newer] == [502, 503, 505, 506]
        assert await gateway.fetch_comments(CH, PostId(4), None) == []

    async def test_no_discussion(self, gateway: TelegramGateway) -> None:
        """A post without a discussion group has no comments to ask for."""
        with pytest.raises(NoDiscussionError):
            await gateway.fetch_comments(CH, PostId(2), None)

    async def test_unreadable_thread(self, gateway: TelegramGateway) -> None:
        """A thread that answers MSG_ID_INVALID while its post reports comments, or whose
        post is gone, is unreadable (not "no discussion")."""
        with pytest.raises(ThreadUnreadableError):
            await gateway.fetch_comments(CH, PostId(9), None)
        with pytest.raises(ThreadUnreadableError):
            await gateway.fetch_comments(CH, PostId(8), None)

    async def test_member_events(self, gateway: TelegramGateway) -> None:
        """Every action (removals too), the subscriber as the user, the invite link of a
        join, ``after`` exclusive."""
        every = await gateway.fetch_member_events(CH, EventId(0))
        newer = await gateway.fetch_member_events(CH, EventId(9002))

        assert [_event(e) for e in every] == [
            (9001, at(0.5), "join", 42, None, False),
            (9002, at(1), "join_by_invite", 43, CANNED_LINK, True),
            (9003, at(2), "join_by_request", 44, CANNED_LINK, True),
            (9004, at(3), "invite", 45, None, False),
            (9005, at(4), "leave", 42, None, False),
            (9006, at(5), "kick", 43, None, False),
            (9007, at(6), "join_by_invite", 46, InviteLink(*EVENTS[6][4]), True),
            (9008, at(7), "join_by_invite", 47, InviteLink(*EVENTS[7][4]), True),
            (9009, at(8), "join_by_request", 48, None, False),  # no link: not by link
            (9010, at(9), "join", 49, None, False),
            (9011, at(10), "invite", 50, None, False),
        ]
        assert [e.user for e in every] == [profile(e[3]) for e in EVENTS]
        assert [e.id for e in newer] == [e[0] for e in EVENTS[2:]]

    async def test_subscriber_count(self, gateway: TelegramGateway) -> None:
        """participants_count as it stands now."""
        assert await gateway.fetch_subscriber_count(CH) == SUBSCRIBERS

    async def test_request_costs(self, gateway: TelegramGateway) -> None:
        """Posts, counters, admin-log and channel reads cost the same in both.

        Not comments: Telethon reads one more, empty, page of a thread read from the start,
        and one post by id to tell an unreadable thread from a missing one.
        """
        before = dict(gateway.request_counts())
        await gateway.fetch_new_posts(CH, None)
        await gateway.fetch_new_posts(CH, LAST_POST)
        await gateway.fetch_posts(CH, [PostId(1), PostId(3), PostId(8)])
        await gateway.fetch_member_events(CH, EventId(0))
        await gateway.fetch_subscriber_count(CH)
        after = gateway.request_counts()

        kinds = ("posts", "counters", "admin_log", "channel")
        spent = {k: after[k] - before.get(k, 0) for k in kinds}
        assert spent == {"posts": 2, "counters": 1, "admin_log": 1, "channel": 1}
