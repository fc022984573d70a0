"""TelethonGateway over a real TelegramClient whose network answers canned TL responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from telethon import errors
from telethon.tl import types

from tests.telethon_canned import (
    EPOCH,
    CannedTelegram,
    canned_client,
    channel,
    comment,
    member_event,
    post,
    reactions,
    service,
    thread,
    user,
)
from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.domain.ids import ChannelId, CommentId, EventId, PostId
from tgstat.domain.model import AuthorKind, MemberAction, ReactionCount, UserProfile
from tgstat.domain.planning import batches
from tgstat.ports.gateway import (
    ChannelAmbiguousError,
    ChannelForbiddenError,
    ChannelNotFoundError,
    DisconnectedError,
    GatewayError,
    NoDiscussionError,
    RateLimitedError,
    SessionBannedError,
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

        found = [p for batch in batches(ids) for p in await gateway.fetch_posts(CH, batch)]

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

    async def test_deleted_and_service_messages_are_absent(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Unknown ids (MessageEmpty) and service messages are left out, order kept."""
        with_history(telegram, CH, post(CH, 1, minutes(1)), service(CH, 2, minutes(2)))
        with_history(telegram, CH, post(CH, 3, minutes(3)))

        found = await gateway.fetch_posts(CH, [PostId(3), PostId(2), PostId(9), PostId(1)])

        assert [p.id for p in found] == [3, 1]

    async def test_no_ids_no_request(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """An empty batch answers at once."""
        assert await gateway.fetch_posts(CH, []) == []
        assert telegram.requests == []


class TestComments:
    """A post's comments thread, paged, ascending, with user and channel authors."""

    async def test_paging_authors_and_after(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """250 comments by users and channels; anonymous ones skipped; ``after`` exclusive."""
        authors = [types.PeerUser(42), types.PeerChannel(777), None]
        telegram.threads[(CH, 5)] = [
            comment(DISCUSSION, 1000 + i, minutes(i), authors[i % 3]) for i in range(250)
        ]
        telegram.add_users(user(42, "Ann"))

        every = await gateway.fetch_comments(CH, PostId(5), None)
        newer = await gateway.fetch_comments(CH, PostId(5), CommentId(1240))

        assert [c.id for c in every] == [1000 + i for i in range(250) if i % 3 != 2]
        assert {(c.author_kind, c.author_id) for c in every} == {
            (AuthorKind.USER, 42),
            (AuthorKind.CHANNEL, 777),
        }
        assert all(c.post_id == 5 for c in every)
        assert every[0].date == minutes(0)
        assert [c.id for c in newer] == [1241, 1243, 1244, 1246, 1247, 1249]
        # Comment ids are large, so Telethon only stops on an empty page: 3 + 1, then 1.
        assert telegram.count("GetRepliesRequest") == 5
        assert gateway.request_counts()["comments"] == 5

    async def test_post_without_discussion(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Telegram's MSG_ID_INVALID for a thread-less post becomes NoDiscussionError."""
        with pytest.raises(NoDiscussionError, match="post 6") as info:
            await gateway.fetch_comments(CH, PostId(6), None)
        assert isinstance(info.value.__cause__, errors.MsgIdInvalidError)


class TestMemberEvents:
    """Admin-log membership events, classified by action type, ascending by id."""

    async def test_every_action(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """Each action type maps to its MemberAction; the invitee, not the admin, is the user."""
        names = ("join", "join_by_invite", "join_by_request", "invite", "leave")
        telegram.admin_log[CH] = [
            member_event(10 + i, minutes(i), name, 100 + i) for i, name in enumerate(names)
        ]
        telegram.add_users(*(user(100 + i, f"U{i}") for i in range(5)))

        events = await gateway.fetch_member_events(CH, EventId(0))

        assert [(e.id, e.action, e.user.id, e.date) for e in events] == [
            (10, MemberAction.JOIN, 100, minutes(0)),
            (11, MemberAction.JOIN_BY_INVITE, 101, minutes(1)),
            (12, MemberAction.JOIN_BY_REQUEST, 102, minutes(2)),
            (13, MemberAction.INVITE, 103, minutes(3)),
            (14, MemberAction.LEAVE, 104, minutes(4)),
        ]
        assert events[3].user.first_name == "U3"

    async def test_profile(self, telegram: CannedTelegram, gateway: TelethonGateway) -> None:
        """The profile comes from the User sent with the page; without one, only the id."""
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
            )
        )

        ann, unseen = await gateway.fetch_member_events(CH, EventId(0))

        assert ann.user == UserProfile(42, "Ann", "Lee", "ann", True, False, True, "4412345")
        assert unseen.user == UserProfile(43)

    async def test_other_actions_are_skipped(
        self, telegram: CannedTelegram, gateway: TelethonGateway
    ) -> None:
        """Actions that are not joins or leaves never become member events."""
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
        ],
    )
    @pytest.mark.parametrize("call", range(5))
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
