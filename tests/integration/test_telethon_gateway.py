"""TelethonGateway over a real TelegramClient whose network answers canned TL responses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telethon import errors
from telethon.sessions import MemorySession
from telethon.tl import types

from tests.telethon_canned import (
    EPOCH,
    PUBLIC_REQUEST,
    CannedTelegram,
    banned,
    canned_client,
    canned_client_class,
    channel,
    comment,
    invite_link,
    member_event,
    post,
    reactions,
    service,
    thread,
    toggle_ban,
    user,
)
from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import SessionClient, TelethonSignIn, connect_authorized
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import (
    AuthorKind,
    InviteLink,
    MemberAction,
    ReactionCount,
    UserProfile,
)
from tgstat.domain.planning import batches
from tgstat.ports.gateway import (
    ChannelAmbiguousError,
    ChannelForbiddenError,
    ChannelNotFoundError,
    DisconnectedError,
    GatewayError,
    NoDiscussionError,
    PostsRead,
    RateLimitedError,
    SessionBannedError,
    SubscriberCountUnknownError,
    ThreadUnreadableError,
)

CH = ChannelId(1001)
PLAIN = ChannelId(1002)
DISCUSSION = 2001
ADMIN = 1


def minutes(n: int) -> Any:
    return EPOCH + timedelta(minutes=n)


@pytest.fixture(name="telegram")
def _telegram() -> CannedTelegram:
    """Two channels of the account (one with a username and a discussion group)."""
    return CannedTelegram(
        dialogs=[channel(CH, "Tech notes", "technotes"), channel(PLAIN, "Tech news")],
        discussions={CH: channel(DISCUSSION, "Tech notes chat", broadcast=False)},
        users={ADMIN: user(ADMIN, "Admin")},
    )


@pytest.fixture(name="gateway")
def _gateway(telegram: CannedTelegram) -> TelethonGateway:
    return TelethonGateway(canned_client(telegram))


def with_history(telegram: CannedTelegram, channel_id: int, *messages: Any) -> None:
    telegram.history.setdefault(channel_id, []).extend(messages)


class TestNewPosts:
    """History pages of 100, newest first, come back ascending, without service messages."""

    async def test_250_posts_take_three_requests(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """255 messages (5 of them service) are read in 3 pages; posts come back ascending."""
        for i in range(1, 256):
            msg = service(CH, i, minutes(i)) if i % 50 == 0 else post(CH, i, minutes(i))
            with_history(telegram, CH, msg)

        posts = await gateway.fetch_new_posts(CH, None)

        assert [p.id for p in posts] == [i for i in range(1, 256) if i % 50]
        assert telegram.count("GetHistoryRequest") == 3
        assert gateway.request_counts()["posts"] == 3

    async def test_after_reads_only_newer_posts(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """``after`` is exclusive and one page covers a quiet channel."""
        with_history(telegram, CH, *(post(CH, i, minutes(i)) for i in range(1, 256)))

        assert [p.id for p in await gateway.fetch_new_posts(CH, PostId(250))] == [
            251,
            252,
            253,
            254,
            255,
        ]
        assert await gateway.fetch_new_posts(CH, PostId(255)) == []
        assert telegram.count("GetHistoryRequest") == 2

    async def test_content_and_link(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Text, date and link come from the message; empty text is None."""
        with_history(
            telegram, CH, post(CH, 7, minutes(7), message="Hello"), post(CH, 8, minutes(8))
        )
        with_history(telegram, PLAIN, post(PLAIN, 3, minutes(3), message=""))

        hello, bare = await gateway.fetch_new_posts(CH, None)
        (untitled,) = await gateway.fetch_new_posts(PLAIN, None)

        assert (hello.text, hello.date, hello.link) == (
            "Hello",
            minutes(7),
            "https://t.me/technotes/7",
        )
        assert bare.text is None
        assert (untitled.text, untitled.link) == (None, f"https://t.me/c/{PLAIN}/3")

    async def test_counters(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """Views, forwards, replies and standard, custom and paid reactions are mapped."""
        with_history(
            telegram,
            CH,
            post(
                CH,
                1,
                minutes(1),
                views=120,
                forwards=4,
                replies=thread(6, DISCUSSION),
                reactions=reactions({"👍": 5, "❤️": 2}, {5368324170671202286: 1}, paid=3),
            ),
        )

        (p,) = await gateway.fetch_new_posts(CH, None)

        assert (p.counters.views, p.counters.forwards, p.counters.comments) == (120, 4, 6)
        assert p.has_discussion
        assert p.counters.reactions == (
            ReactionCount.emoji("👍", 5),
            ReactionCount.emoji("❤️", 2),
            ReactionCount.custom(5368324170671202286, 1),
            ReactionCount.paid(3),
        )
        assert p.counters.reactions_total == 11

    async def test_unknown_counters_stay_none(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Missing views and forwards are unknown, not 0; a missing reactions field is none."""
        with_history(telegram, CH, post(CH, 1, minutes(1)))

        (p,) = await gateway.fetch_new_posts(CH, None)

        assert (p.counters.views, p.counters.forwards) == (None, None)
        assert p.counters.reactions == ()

    async def test_post_without_discussion(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """No replies field, or a replies field that is not a comments thread: no discussion."""
        no_thread = types.MessageReplies(replies=2, replies_pts=0)
        with_history(
            telegram, CH, post(CH, 1, minutes(1)), post(CH, 2, minutes(2), replies=no_thread)
        )

        posts = await gateway.fetch_new_posts(CH, None)

        assert [(p.has_discussion, p.counters.comments) for p in posts] == [(False, None)] * 2

    async def test_album(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """The messages of an album share Telegram's ``grouped_id``; others have none."""
        photo = types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))
        with_history(
            telegram,
            CH,
            *(post(CH, i, minutes(1), media=photo, grouped_id=13_000_000_001) for i in (1, 2, 3)),
            post(CH, 4, minutes(2), message="alone"),
        )

        posts = await gateway.fetch_new_posts(CH, None)

        assert [(p.id, p.grouped_id) for p in posts] == [
            (1, 13_000_000_001),
            (2, 13_000_000_001),
            (3, 13_000_000_001),
            (4, None),
        ]


def _document(*attributes: Any) -> types.MessageMediaDocument:
    doc = types.Document(
        id=1,
        access_hash=1,
        file_reference=b"",
        date=EPOCH,
        mime_type="application/octet-stream",
        size=1,
        dc_id=2,
        attributes=list(attributes),
    )
    return types.MessageMediaDocument(document=doc)


_VIDEO = types.DocumentAttributeVideo(duration=1.0, w=1, h=1)
_STICKER = types.DocumentAttributeSticker(alt="x", stickerset=types.InputStickerSetEmpty())
_GEO = types.GeoPointEmpty()
_POLL = types.Poll(id=1, question=types.TextWithEntities(text="?", entities=[]), answers=[], hash=0)


class TestMediaKinds:
    """The media kind follows the media class and, for documents, their attributes."""

    @pytest.mark.parametrize(
        ("media", "kind"),
        [
            (None, None),
            (types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1)), "photo"),
            (_document(_VIDEO), "video"),
            (_document(types.DocumentAttributeAudio(duration=1, voice=True)), "audio"),
            (_document(_STICKER), "sticker"),
            (_document(_STICKER, _VIDEO), "sticker"),
            (_document(types.DocumentAttributeFilename(file_name="a.pdf")), "document"),
            (types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1)), "webpage"),
            (types.MessageMediaPoll(poll=_POLL, results=types.PollResults()), "poll"),
            (types.MessageMediaGeo(geo=_GEO), "geo"),
            (types.MessageMediaGeoLive(geo=_GEO, period=60), "geo"),
            (types.MessageMediaVenue(_GEO, "t", "a", "p", "v", "type"), "geo"),
            (types.MessageMediaContact("1", "A", "B", "", 5), "contact"),
            (types.MessageMediaDice(value=3, emoticon="🎲"), "dice"),
        ],
    )
    async def test_kind(
        self, telegram: CannedTelegram, gateway: TelethonGateway, media: Any, kind: str | None
    ) -> None:
        """One media object, one kind."""
        with_history(telegram, CH, post(CH, 1, minutes(1), media=media))

        (p,) = await gateway.fetch_new_posts(CH, None)

        assert p.media == kind


class TestCounterRefresh:
    """Posts by id, at most 100 ids per request."""

    async def test_250_ids_in_three_requests(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Batches of at most 100 ids cost one GetMessages request each."""
        with_history(telegram, CH, *(post(CH, i, minutes(i), views=i) for i in range(1, 251)))
        ids = [PostId(i) for i in range(1, 251)]

        found = [p for batch in batches(ids) for p in (await gateway.fetch_posts(CH, batch)).posts]

        assert [(p.id, p.counters.views) for p in found] == [(i, i) for i in range(1, 251)]
        assert telegram.count("GetMessagesRequest") == 3
        assert gateway.request_counts()["counters"] == 3

    async def test_refuses_more_than_100_ids(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """101 ids are a programming error, caught before any request."""
        with pytest.raises(ValueError, match="at most 100"):
            await gateway.fetch_posts(CH, [PostId(i) for i in range(1, 102)])
        assert telegram.requests == []

    async def test_deleted_and_service_messages(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """MessageEmpty ids are deleted; a service message is neither a post nor deleted."""
        with_history(telegram, CH, post(CH, 1, minutes(1)), service(CH, 2, minutes(2)))
        with_history(telegram, CH, post(CH, 3, minutes(3)), post(CH, 4, minutes(4)))
        telegram.delete(CH, 4)

        read = await gateway.fetch_posts(CH, [PostId(3), PostId(2), PostId(4), PostId(1)])

        assert [p.id for p in read.posts] == [3, 1]
        assert read.deleted == {4}
        assert telegram.count("GetMessagesRequest") == 1

    async def test_no_ids_no_request(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """An empty batch answers at once."""
        assert await gateway.fetch_posts(CH, []) == PostsRead(())
        assert telegram.requests == []


class TestComments:
    """A post's comments thread, paged, ascending; every comment kept, whoever wrote it."""

    async def test_paging_and_after(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """250 comments in pages of 100, ascending; ``after`` is exclusive."""
        telegram.threads[(CH, 5)] = [
            comment(DISCUSSION, 1000 + i, minutes(i), types.PeerUser(42)) for i in range(250)
        ]
        telegram.add_users(user(42, "Ann"))

        every = await gateway.fetch_comments(CH, PostId(5), None)
        newer = await gateway.fetch_comments(CH, PostId(5), CommentId(1245))

        assert [c.id for c in every] == [1000 + i for i in range(250)]
        assert all(c.post_id == 5 for c in every)
        assert every[0].date == minutes(0)
        assert [c.id for c in newer] == [1246, 1247, 1248, 1249]
        # Comment ids are large, so Telethon only stops on an empty page: 3 + 1, then 1.
        assert telegram.count("GetRepliesRequest") == 5
        assert gateway.request_counts()["comments"] == 5

    async def test_every_author_kind(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """``from_id``: PeerUser is a user; the discussion group itself an anonymous admin
        (with the group's id); another PeerChannel a user posting as a channel; PeerChat
        and no sender at all are kept without an author."""
        authors = [
            types.PeerUser(42),
            types.PeerChannel(777),
            types.PeerChannel(DISCUSSION),
            None,
            types.PeerChat(55),
        ]
        telegram.threads[(CH, 5)] = [
            comment(DISCUSSION, 100 + i, minutes(i), a) for i, a in enumerate(authors)
        ]
        telegram.add_users(user(42, "Ann"))

        found = await gateway.fetch_comments(CH, PostId(5), None)

        assert [(c.id, c.author_kind, c.author_id) for c in found] == [
            (100, AuthorKind.USER, 42),
            (101, AuthorKind.CHANNEL, 777),
            (102, AuthorKind.ANONYMOUS, DISCUSSION),
            (103, AuthorKind.NONE, None),
            (104, AuthorKind.NONE, None),
        ]

    async def test_service_messages_are_not_comments(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A pin in the discussion group is not a comment."""
        telegram.threads[(CH, 5)] = [
            comment(DISCUSSION, 100, minutes(1), None),
            service(DISCUSSION, 101, minutes(2)),
        ]

        assert [c.id for c in await gateway.fetch_comments(CH, PostId(5), None)] == [100]

    async def test_unreadable_thread(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """MSG_ID_INVALID for a post that reports a comments thread: the thread is
        unreadable (not "no discussion"); telling them apart costs one read of the post."""
        with_history(telegram, CH, post(CH, 6, minutes(6), replies=thread(3, DISCUSSION)))

        with pytest.raises(ThreadUnreadableError, match="post 6") as info:
            await gateway.fetch_comments(CH, PostId(6), None)
        assert isinstance(info.value.__cause__, errors.MsgIdInvalidError)
        assert telegram.requests[-2:] == ["GetRepliesRequest", "GetMessagesRequest"]

    async def test_thread_of_a_deleted_post(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A post gone since it reported its thread: unreadable, not "no discussion"."""
        with_history(telegram, CH, post(CH, 6, minutes(6), replies=thread(3, DISCUSSION)))
        telegram.delete(CH, 6)

        with pytest.raises(ThreadUnreadableError):
            await gateway.fetch_comments(CH, PostId(6), None)

    async def test_post_without_discussion(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """MSG_ID_INVALID for a post without a comments thread: NoDiscussionError."""
        with_history(telegram, CH, post(CH, 6, minutes(6)))

        with pytest.raises(NoDiscussionError, match="post 6") as info:
            await gateway.fetch_comments(CH, PostId(6), None)
        assert isinstance(info.value.__cause__, errors.MsgIdInvalidError)


def _event_row(e: Any) -> tuple[Any, ...]:
    return (e.id, e.action, e.user.id, e.invite)


class TestMemberEvents:
    """Admin-log membership events, classified by action type, ascending by id."""

    async def test_every_action(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """Each action type maps to its MemberAction; the invitee and the removed
        subscriber, not the admin, are the user."""
        names = ("join", "join_by_invite", "join_by_request", "invite", "leave", "kick")
        telegram.admin_log[CH] = [
            member_event(10 + i, minutes(i), name, 100 + i) for i, name in enumerate(names)
        ]
        telegram.add_users(*(user(100 + i, f"U{i}") for i in range(6)))

        events = await gateway.fetch_member_events(CH, EventId(0))

        assert [(e.id, e.action, e.user.id, e.date) for e in events] == [
            (10, MemberAction.JOIN, 100, minutes(0)),
            (11, MemberAction.JOIN_BY_INVITE, 101, minutes(1)),
            (12, MemberAction.JOIN_BY_REQUEST, 102, minutes(2)),
            (13, MemberAction.INVITE, 103, minutes(3)),
            (14, MemberAction.LEAVE, 104, minutes(4)),
            (15, MemberAction.KICK, 105, minutes(5)),
        ]
        assert (events[3].user.first_name, events[5].user.first_name) == ("U3", "U5")

    async def test_profile(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """The profile comes from the User sent with the page, ``bot`` included."""
        telegram.admin_log[CH] = [
            member_event(1, minutes(1), "join", 42),
            member_event(2, minutes(2), "invite", 43),
        ]
        telegram.add_users(
            user(
                42,
                "Ann",
                last_name="Lee",
                username="ann",
                premium=True,
                scam=False,
                verified=True,
                phone="4412345",
            ),
            user(43, "Helper", username="helper_bot", bot=True),
        )

        ann, helper = await gateway.fetch_member_events(CH, EventId(0))

        assert ann.user == UserProfile(
            42, "Ann", "Lee", "ann", True, False, True, "4412345", bot=False
        )
        assert helper.user == UserProfile(
            43, "Helper", None, "helper_bot", False, False, False, None, bot=True
        )

    async def test_missing_user_keeps_the_id(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A page whose first join comes without its user object: Telethon's own
        AdminLogEvent raises KeyError on it; the gateway keeps the id alone and the next
        user's join of the same page too."""
        telegram.admin_log[CH] = [
            member_event(1, minutes(1), "join", 42),
            member_event(2, minutes(2), "join", 43),
            member_event(3, minutes(3), "invite", 44),
        ]
        telegram.add_users(user(43, "Bob"))  # 42 and the invitee 44 are left out
        client = canned_client(telegram)
        with pytest.raises(KeyError):
            [e async for e in client.iter_admin_log(telegram.dialogs[0], join=True)]

        events = await gateway.fetch_member_events(CH, EventId(0))

        assert [(e.id, e.user) for e in events] == [
            (1, UserProfile(42)),
            (2, UserProfile(43, "Bob", premium=False, scam=False, verified=False, bot=False)),
            (3, UserProfile(44)),
        ]

    @pytest.mark.parametrize(
        ("invite", "via_chatlist", "expected"),
        [
            (
                invite_link("https://t.me/+Spring", "Spring ads"),
                False,
                InviteLink("https://t.me/+Spring", "Spring ads"),
            ),
            (invite_link("https://t.me/+NoTitle"), False, InviteLink("https://t.me/+NoTitle")),
            (
                invite_link("https://t.me/addlist/Folder"),
                True,
                InviteLink("https://t.me/addlist/Folder", None, via_chatlist=True),
            ),
            (PUBLIC_REQUEST, False, None),
        ],
    )
    async def test_join_by_invite_links(
        self,
        telegram: CannedTelegram,
        gateway: TelethonGateway,
        invite: Any,
        via_chatlist: bool,
        expected: InviteLink | None,
    ) -> None:
        """ChatInviteExported gives the link, its title and the chat-folder flag; a
        ChatInvitePublicJoinRequests carries no link. A join by invite is by link always."""
        telegram.admin_log[CH] = [
            member_event(
                1, minutes(1), "join_by_invite", 42, invite=invite, via_chatlist=via_chatlist
            )
        ]

        (event,) = await gateway.fetch_member_events(CH, EventId(0))

        assert (event.action, event.invite, event.is_by_link) == (
            MemberAction.JOIN_BY_INVITE,
            expected,
            True,
        )

    @pytest.mark.parametrize(
        ("invite", "expected", "by_link"),
        [
            (
                invite_link("https://t.me/+Ask", "Requests"),
                InviteLink("https://t.me/+Ask", "Requests"),
                True,
            ),
            (PUBLIC_REQUEST, None, False),
        ],
    )
    async def test_join_requests(
        self,
        telegram: CannedTelegram,
        gateway: TelethonGateway,
        invite: Any,
        expected: InviteLink | None,
        by_link: bool,
    ) -> None:
        """An approved request through a link is by link; one made through the public
        username (ChatInvitePublicJoinRequests) is not."""
        telegram.admin_log[CH] = [member_event(1, minutes(1), "join_by_request", 42, invite=invite)]

        (event,) = await gateway.fetch_member_events(CH, EventId(0))

        assert (event.action, event.user.id, event.invite, event.is_by_link) == (
            MemberAction.JOIN_BY_REQUEST,
            42,
            expected,
            by_link,
        )

    @pytest.mark.parametrize(
        ("prev", "new", "removed"),
        [
            # in -> banned from viewing: removed
            (types.ChannelParticipant(42, EPOCH), banned(42, EPOCH), True),
            # in -> left: removed without a ban
            (
                types.ChannelParticipant(42, EPOCH),
                types.ChannelParticipantLeft(types.PeerUser(42)),
                True,
            ),
            # a restricted member -> banned from viewing: removed
            (banned(42, EPOCH, view_messages=False), banned(42, EPOCH), True),
            # in -> restricted (still a subscriber): no change
            (types.ChannelParticipant(42, EPOCH), banned(42, EPOCH, view_messages=False), False),
            # restriction lifted: no change
            (banned(42, EPOCH, view_messages=False), types.ChannelParticipant(42, EPOCH), False),
            # the unban that follows a removal (banned -> left): already out
            (banned(42, EPOCH), types.ChannelParticipantLeft(types.PeerUser(42)), False),
            # a ban edited: already out
            (banned(42, EPOCH), banned(42, minutes(5)), False),
        ],
    )
    async def test_ban_toggles(
        self,
        telegram: CannedTelegram,
        gateway: TelethonGateway,
        prev: Any,
        new: Any,
        removed: bool,
    ) -> None:
        """A ban toggle is a removal of the new participant (not of the admin, whose id the
        event carries) only when it puts them out of the channel."""
        telegram.admin_log[CH] = [toggle_ban(7, minutes(7), prev, new, admin_id=ADMIN)]
        telegram.add_users(user(42, "Ann"))

        events = await gateway.fetch_member_events(CH, EventId(0))

        expected = [(7, MemberAction.KICK, 42, None)] if removed else []
        assert [_event_row(e) for e in events] == expected
        if removed:
            assert events[0].user.first_name == "Ann"

    async def test_channel_peers_are_not_subscribers(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A ban toggle whose participant is a channel, not a user, is skipped."""
        gone = types.ChannelParticipantLeft(types.PeerChannel(777))
        telegram.admin_log[CH] = [
            toggle_ban(7, minutes(7), types.ChannelParticipant(42, EPOCH), gone)
        ]

        assert await gateway.fetch_member_events(CH, EventId(0)) == []

    async def test_other_actions_are_skipped(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Actions that are not joins, leaves or removals never become member events."""
        title = types.ChannelAdminLogEventActionChangeTitle(prev_value="a", new_value="b")
        telegram.admin_log[CH] = [
            member_event(1, minutes(1), "join", 42),
            types.ChannelAdminLogEvent(id=2, date=minutes(2), user_id=ADMIN, action=title),
        ]
        telegram.add_users(user(42, "Ann"))

        assert [e.id for e in await gateway.fetch_member_events(CH, EventId(0))] == [1]

    async def test_cursor_and_paging(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """``after`` is an exclusive server-side cursor; pages hold 100 events."""
        telegram.admin_log[CH] = [
            member_event(i, minutes(i), "join", 100 + i) for i in range(1, 251)
        ]
        telegram.add_users(*(user(100 + i, "U") for i in range(1, 251)))

        every = await gateway.fetch_member_events(CH, EventId(0))
        newer = await gateway.fetch_member_events(CH, EventId(245))

        assert [e.id for e in every] == list(range(1, 251))
        assert [e.id for e in newer] == [246, 247, 248, 249, 250]
        assert telegram.count("GetAdminLogRequest") == 3 + 1
        assert gateway.request_counts()["admin_log"] == 4

    async def test_full_page_of_skipped_events(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Paging follows the events Telegram sent, mapped or not: 100 restrictions then a
        removal take two requests and find the removal."""
        restrict = banned(42, EPOCH, view_messages=False)
        member = types.ChannelParticipant(42, EPOCH)
        telegram.admin_log[CH] = [
            toggle_ban(i, minutes(i), member, restrict) for i in range(1, 101)
        ] + [member_event(101, minutes(101), "kick", 42)]

        events = await gateway.fetch_member_events(CH, EventId(0))

        assert [(e.id, e.action) for e in events] == [(101, MemberAction.KICK)]
        # newest first: the removal and 99 restrictions, then the last restriction
        assert telegram.count("GetAdminLogRequest") == 2


class TestSubscriberCount:
    """``participants_count`` of channels.getFullChannel, one ``channel`` request."""

    async def test_count(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        telegram.subscribers[CH] = 1234

        assert await gateway.fetch_subscriber_count(CH) == 1234
        assert telegram.count("GetFullChannelRequest") == 1
        assert gateway.request_counts()["channel"] == 1

    async def test_zero_is_a_count(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        telegram.subscribers[CH] = 0

        assert await gateway.fetch_subscriber_count(CH) == 0

    async def test_left_out_is_an_error(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A count Telegram does not report is unknown, never 0."""
        telegram.subscribers[CH] = None

        with pytest.raises(SubscriberCountUnknownError, match=r'"Tech notes" \(id 1001\)'):
            await gateway.fetch_subscriber_count(CH)


class TestResolveChannel:
    """A channel by exact title, @username or id; clear errors otherwise."""

    async def test_by_title(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """The exact title among the account's broadcast channels."""
        info = await gateway.resolve_channel("Tech notes")

        assert (info.id, info.title, info.username) == (CH, "Tech notes", "technotes")
        assert gateway.request_counts() == {"resolve": 1}

    async def test_by_username(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """``@username`` is resolved by Telegram."""
        info = await gateway.resolve_channel("@TechNotes")

        assert info.id == CH
        assert telegram.requests == ["ResolveUsernameRequest"]

    @pytest.mark.parametrize("query", [str(PLAIN), f"-100{PLAIN}"])
    async def test_by_id(
        self, telegram: CannedTelegram, gateway: TelethonGateway, query: str
    ) -> None:
        """A bare or marked id of a channel the session has not seen yet: found in dialogs."""
        info = await gateway.resolve_channel(query)

        assert (info.id, info.title, info.username) == (PLAIN, "Tech news", None)
        assert telegram.requests == ["GetChannelsRequest", "GetDialogsRequest"]

    async def test_not_found_lists_close_titles(self, gateway: TelethonGateway) -> None:
        """The message names the close titles; discussion groups are not channels."""
        with pytest.raises(ChannelNotFoundError) as info:
            await gateway.resolve_channel("Tech note")
        assert "'Tech notes'" in str(info.value)
        assert "'Tech news'" in str(info.value)
        assert "chat" not in str(info.value)

    @pytest.mark.parametrize("query", ["@nobody", "Tech notes chat", "2001"])
    async def test_not_a_channel(self, gateway: TelethonGateway, query: str) -> None:
        """Unknown usernames, and groups by title or id, are not found."""
        with pytest.raises(ChannelNotFoundError):
            await gateway.resolve_channel(query)

    async def test_ambiguous_lists_ids(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Two channels with one title: both are listed with their ids."""
        telegram.dialogs.append(channel(1003, "Tech news"))

        with pytest.raises(ChannelAmbiguousError) as info:
            await gateway.resolve_channel("Tech news")
        assert '"Tech news" (id 1002)' in str(info.value)
        assert '"Tech news" (id 1003)' in str(info.value)

    async def test_unresolved_channel_id(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Other methods find a channel by id alone, once; an unknown id is not found."""
        with_history(telegram, CH, post(CH, 1, minutes(1)))

        assert len(await gateway.fetch_new_posts(CH, None)) == 1
        assert len(await gateway.fetch_new_posts(CH, None)) == 1
        assert telegram.count("GetDialogsRequest") == 1
        with pytest.raises(ChannelNotFoundError, match="4242"):
            await gateway.fetch_new_posts(ChannelId(4242), None)


def _every_call(gateway: TelethonGateway) -> list[Callable[[], Any]]:
    return [
        lambda: gateway.resolve_channel("Tech notes"),
        lambda: gateway.fetch_new_posts(CH, None),
        lambda: gateway.fetch_posts(CH, [PostId(1)]),
        lambda: gateway.fetch_comments(CH, PostId(1), None),
        lambda: gateway.fetch_member_events(CH, EventId(0)),
        lambda: gateway.fetch_subscriber_count(CH),
    ]


class TestErrors:
    """Telethon's errors become the port's, with the Telethon error as the cause."""

    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (errors.FloodWaitError(request=None, capture=3600), RateLimitedError),
            (errors.UserDeactivatedBanError(request=None), SessionBannedError),
            (errors.UserDeactivatedError(request=None), SessionBannedError),
            (errors.AuthKeyUnregisteredError(request=None), SessionBannedError),
            (errors.SessionRevokedError(request=None), SessionBannedError),
            (errors.SessionExpiredError(request=None), SessionBannedError),
            (errors.AuthKeyDuplicatedError(request=None), SessionBannedError),
            (errors.ChannelPrivateError(request=None), ChannelForbiddenError),
            (errors.ChatAdminRequiredError(request=None), ChannelForbiddenError),
            (ConnectionError("reset by peer"), DisconnectedError),
            (OSError("network unreachable"), DisconnectedError),
            # something other than Telegram answered (seen behind a captive proxy)
            (asyncio.IncompleteReadError(b"x" * 95, 1347703872), DisconnectedError),
            (errors.InvalidBufferError(b"\x6c\xfe\xff\xff"), DisconnectedError),
        ],
    )
    @pytest.mark.parametrize("call", range(6))
    async def test_mapping(
        self,
        telegram: CannedTelegram,
        gateway: TelethonGateway,
        raised: BaseException,
        expected: type[GatewayError],
        call: int,
    ) -> None:
        """Every method translates every listed error of its own request."""
        if call:
            await gateway.resolve_channel("Tech notes")
        telegram.fail["any"] = [raised]

        with pytest.raises(expected) as info:
            await _every_call(gateway)[call]()
        assert info.value.__cause__ is raised

    async def test_messages(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """Messages carry the wait, the error class and the channel's title and id."""
        await gateway.resolve_channel("Tech notes")
        telegram.fail["GetHistoryRequest"] = [errors.FloodWaitError(request=None, capture=3600)]
        telegram.fail["GetAdminLogRequest"] = [errors.ChatAdminRequiredError(request=None)]
        telegram.fail["GetRepliesRequest"] = [errors.SessionRevokedError(request=None)]

        with pytest.raises(RateLimitedError, match="3600 s") as flood:
            await gateway.fetch_new_posts(CH, None)
        with pytest.raises(ChannelForbiddenError, match=r'"Tech notes" \(id 1001\)'):
            await gateway.fetch_member_events(CH, EventId(0))
        with pytest.raises(SessionBannedError, match="SessionRevokedError"):
            await gateway.fetch_comments(CH, PostId(1), None)
        assert flood.value.retry_after == 3600

    @pytest.mark.parametrize("receive_updates", [True, False])
    async def test_flood_wait_memory(self, telegram: CannedTelegram, receive_updates: bool) -> None:
        """Telethon refuses a request it got a long FloodWait for without sending it, but
        only with updates on: with ``receive_updates=False`` it wraps requests in
        InvokeWithoutUpdates and files the wait under the wrapper, so it sends again."""
        gateway = TelethonGateway(canned_client(telegram, receive_updates=receive_updates))
        telegram.fail["GetHistoryRequest"] = [errors.FloodWaitError(request=None, capture=3600)]
        with pytest.raises(RateLimitedError):
            await gateway.fetch_new_posts(CH, None)
        sent = telegram.count("GetHistoryRequest")

        if receive_updates:
            with pytest.raises(RateLimitedError) as again:
                await gateway.fetch_new_posts(CH, None)
            assert telegram.count("GetHistoryRequest") == sent
            assert 3590 < again.value.retry_after <= 3600
        else:
            assert await gateway.fetch_new_posts(CH, None) == []
            assert telegram.count("GetHistoryRequest") == sent + 1

    @pytest.mark.parametrize(
        "raised",
        [errors.RpcCallFailError(request=None), errors.TimedOutError(None, "Timeout", -503)],
    )
    async def test_server_trouble_after_retries(
        self, telegram: CannedTelegram, raised: BaseException
    ) -> None:
        """Telegram's internal errors, once Telethon's retries are spent, are a disconnect."""
        gateway = TelethonGateway(canned_client(telegram, request_retries=0))
        telegram.fail["any"] = [raised]

        with pytest.raises(DisconnectedError) as info:
            await gateway.fetch_member_events(CH, EventId(0))
        assert info.value.__cause__ is raised

    async def test_short_flood_wait_is_slept(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """A FloodWait under the client's threshold is slept and retried inside Telethon."""
        with_history(telegram, CH, post(CH, 1, minutes(1)))
        telegram.fail["GetHistoryRequest"] = [errors.FloodWaitError(request=None, capture=1)]

        assert len(await gateway.fetch_new_posts(CH, None)) == 1
        assert gateway.request_counts()["posts"] == 2


class TestTransportTrouble:
    """Sign-in and the liveness check name an unreachable Telegram as a disconnect, also when
    something other than Telegram answers (a short read, a non-MTProto packet)."""

    @pytest.mark.parametrize(
        "raised",
        [
            ConnectionError("reset by peer"),
            asyncio.IncompleteReadError(b"x" * 95, 1347703872),
            errors.InvalidBufferError(b"\x6c\xfe\xff\xff"),
        ],
    )
    async def test_liveness_check(self, telegram: CannedTelegram, raised: Exception) -> None:
        telegram.fail["any"] = [raised]
        client = canned_client_class(telegram)(MemorySession(), 1, "0" * 32, request_retries=0)
        with pytest.raises(DisconnectedError, match="cannot reach Telegram") as info:
            await connect_authorized(client)
        assert info.value.__cause__ is raised

    @pytest.mark.parametrize(
        "raised",
        [asyncio.IncompleteReadError(b"", 8), errors.SecurityError("bad msg_key")],
    )
    async def test_sign_in(
        self, telegram: CannedTelegram, raised: Exception, tmp_path: Path
    ) -> None:
        telegram.fail["any"] = [raised]
        client = canned_client_class(telegram)(MemorySession(), 1, "0" * 32, request_retries=0)
        with pytest.raises(DisconnectedError, match="cannot reach Telegram"):
            await TelethonSignIn(SessionClient(client, tmp_path)).send_code("+15551234567")
