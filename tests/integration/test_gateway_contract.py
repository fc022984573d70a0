"""One suite, two gateways: ReplayGateway must answer like TelethonGateway over Telegram.

Both are loaded with the same channel; only what both can know is compared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telethon.tl import types

from tests.telethon_canned import (
    CannedTelegram,
    canned_client,
    channel,
    comment,
    member_event,
    post,
    reactions,
    thread,
    user,
)
from tgstat.adapters.replay import ReplayGateway, Scenario, SimClock
from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import Comment, MemberEvent, Post
from tgstat.ports.gateway import (
    ChannelNotFoundError,
    NoDiscussionError,
    TelegramGateway,
)

CH = ChannelId(1234567890)
DISCUSSION = 2222
START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = START + timedelta(days=1)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


# The channel both gateways serve: (id, hours, text, media, views, forwards, reactions,
# comments as (id, hours, "user"|"channel", author id), discussion).
POSTS: list[tuple[Any, ...]] = [
    (
        1,
        1,
        "First",
        "photo",
        350,
        4,
        {"👍": 5, "custom:5368324170671202286": 1, "paid": 3},
        [(501, 1.5, "user", 42), (502, 2, "channel", 777), (503, 3, "user", 43)],
        True,
    ),
    (2, 2, None, None, 120, 0, {}, [], False),
    (3, 5, "Third", None, 40, 1, {"❤": 2}, [(504, 6, "user", 42)], True),
    (4, 7, "Quiet", "photo", 7, 0, {}, [], True),
]
EVENTS = [
    (9001, 0.5, "join", 42),
    (9002, 1, "join_by_invite", 43),
    (9003, 2, "join_by_request", 44),
    (9004, 3, "invite", 45),
    (9005, 4, "leave", 42),
]
USERS = {42: "Ann", 43: "Bob", 44: "Cy", 45: "Di"}
ADMIN = 1


def _iso(t: datetime) -> str:
    return t.isoformat()


def replay_gateway() -> ReplayGateway:
    raw = {
        "channel": {"id": CH, "title": "Demo channel", "username": "demo_channel"},
        "start": _iso(START),
        "end": _iso(NOW),
        "posts": [
            {
                "id": pid,
                "date": _iso(at(h)),
                "text": text,
                "media": media,
                "views": [[_iso(at(h)), views]],
                "forwards": [[_iso(at(h)), forwards]],
                "reactions": {k: [[_iso(at(h)), n]] for k, n in reacted.items()},
                "comments": [
                    {"id": cid, "date": _iso(at(ch)), f"{kind}_id": author}
                    for cid, ch, kind, author in comments
                ],
                "discussion": discussion,
            }
            for pid, h, text, media, views, forwards, reacted, comments, discussion in POSTS
        ],
        "admin_log": [
            {"id": eid, "date": _iso(at(h)), "action": action, "user": {"id": uid}}
            for eid, h, action, uid in EVENTS
        ],
    }
    return ReplayGateway(Scenario.parse(raw), SimClock(NOW))


def _tl_reactions(reacted: dict[str, int]) -> types.MessageReactions | None:
    if not reacted:
        return None
    emoji = {k: n for k, n in reacted.items() if k != "paid" and not k.startswith("custom:")}
    custom = {int(k.removeprefix("custom:")): n for k, n in reacted.items() if "custom:" in k}
    return reactions(emoji, custom, reacted.get("paid", 0))


def canned_telegram() -> CannedTelegram:
    telegram = CannedTelegram(
        dialogs=[channel(CH, "Demo channel", "demo_channel")],
        discussions={CH: channel(DISCUSSION, "Demo chat", broadcast=False)},
        users={uid: user(uid, name) for uid, name in {**USERS, ADMIN: "Admin"}.items()},
    )
    photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
    for pid, h, text, media, views, forwards, reacted, comments, discussion in POSTS:
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
            )
        )
        if discussion:
            telegram.threads[(CH, pid)] = [
                comment(
                    DISCUSSION,
                    cid,
                    at(ch),
                    types.PeerUser(author) if kind == "user" else types.PeerChannel(author),
                )
                for cid, ch, kind, author in comments
            ]
    telegram.admin_log[CH] = [
        member_event(eid, at(h), action, uid, admin_id=ADMIN) for eid, h, action, uid in EVENTS
    ]
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
    return [(*_post(p), p.has_discussion) for p in posts]


def _comment(c: Comment) -> tuple[Any, ...]:
    return (c.id, c.post_id, c.date, c.author_kind, c.author_id)


def _event(e: MemberEvent) -> tuple[Any, ...]:
    return (e.id, e.date, e.action, e.user.id)


EXPECTED_POSTS = [
    (
        1,
        at(1),
        "First",
        "photo",
        "https://t.me/demo_channel/1",
        350,
        4,
        3,
        [("custom:5368324170671202286", 1), ("paid", 3), ("👍", 5)],
        True,
    ),
    (2, at(2), None, None, "https://t.me/demo_channel/2", 120, 0, None, [], False),
    (3, at(5), "Third", None, "https://t.me/demo_channel/3", 40, 1, 1, [("❤", 2)], True),
    (4, at(7), "Quiet", "photo", "https://t.me/demo_channel/4", 7, 0, 0, [], True),
]


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
        """All posts ascending, or only those above ``after``."""
        assert _posts(await gateway.fetch_new_posts(CH, None)) == EXPECTED_POSTS
        assert _posts(await gateway.fetch_new_posts(CH, PostId(2))) == EXPECTED_POSTS[2:]
        assert await gateway.fetch_new_posts(CH, PostId(4)) == []

    async def test_posts_by_id(self, gateway: TelegramGateway) -> None:
        """Asked order kept; unknown ids absent."""
        found = await gateway.fetch_posts(CH, [PostId(3), PostId(99), PostId(1)])

        assert _posts(found) == [EXPECTED_POSTS[2], EXPECTED_POSTS[0]]

    async def test_comments(self, gateway: TelegramGateway) -> None:
        """Ascending, authors kept, ``after`` exclusive; an empty thread is empty."""
        every = await gateway.fetch_comments(CH, PostId(1), None)
        newer = await gateway.fetch_comments(CH, PostId(1), CommentId(501))

        assert [_comment(c) for c in every] == [
            (501, 1, at(1.5), "user", 42),
            (502, 1, at(2), "channel", 777),
            (503, 1, at(3), "user", 43),
        ]
        assert [c.id for c in newer] == [502, 503]
        assert await gateway.fetch_comments(CH, PostId(4), None) == []

    async def test_no_discussion(self, gateway: TelegramGateway) -> None:
        """A post without a discussion group has no comments to ask for."""
        with pytest.raises(NoDiscussionError):
            await gateway.fetch_comments(CH, PostId(2), None)

    async def test_member_events(self, gateway: TelegramGateway) -> None:
        """Every action, the invitee as the user, ``after`` exclusive."""
        every = await gateway.fetch_member_events(CH, EventId(0))
        newer = await gateway.fetch_member_events(CH, EventId(9002))

        assert [_event(e) for e in every] == [
            (9001, at(0.5), "join", 42),
            (9002, at(1), "join_by_invite", 43),
            (9003, at(2), "join_by_request", 44),
            (9004, at(3), "invite", 45),
            (9005, at(4), "leave", 42),
        ]
        assert [e.id for e in newer] == [9003, 9004, 9005]

    async def test_request_costs(self, gateway: TelegramGateway) -> None:
        """Posts, counters and admin-log reads cost the same in both.

        Not comments: Telethon reads one more, empty, page of a thread read from the start.
        """
        before = dict(gateway.request_counts())
        await gateway.fetch_new_posts(CH, None)
        await gateway.fetch_new_posts(CH, PostId(4))
        await gateway.fetch_posts(CH, [PostId(1), PostId(3)])
        await gateway.fetch_member_events(CH, EventId(0))
        after = gateway.request_counts()

        spent = {k: after[k] - before.get(k, 0) for k in ("posts", "counters", "admin_log")}
        assert spent == {"posts": 2, "counters": 1, "admin_log": 1}
