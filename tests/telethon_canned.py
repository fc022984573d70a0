"""A real ``TelegramClient`` that never connects: its sender answers canned TL responses.

Only the network is replaced (``client._sender``), so Telethon's own request building,
paging, entity caching, flood-wait handling and error raising run for real. ``CannedTelegram``
is the account's Telegram as a working fake: tests fill and change it, then read what was
asked of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from telethon import TelegramClient, errors
from telethon.sessions import MemorySession
from telethon.tl import functions, types
from telethon.tl.types import channels, contacts, messages

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)

_LOG_FILTERS = {
    types.ChannelAdminLogEventActionParticipantJoin: "join",
    types.ChannelAdminLogEventActionParticipantJoinByInvite: "join",
    types.ChannelAdminLogEventActionParticipantJoinByRequest: "join",
    types.ChannelAdminLogEventActionParticipantInvite: "invite",
    types.ChannelAdminLogEventActionParticipantLeave: "leave",
}
"""Admin-log filter flag per membership action (ban toggles: ``_toggle_flag``). Other
actions pass any filter: this fake does not know how Telegram files them, and the gateway
must skip them itself."""


def channel(
    channel_id: int, title: str, username: str | None = None, *, broadcast: bool = True
) -> types.Channel:
    """A channel (``broadcast=False``: a megagroup, e.g. a discussion group)."""
    return types.Channel(
        id=channel_id,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=EPOCH,
        broadcast=broadcast or None,
        megagroup=None if broadcast else True,
        access_hash=channel_id * 7 + 1,
        username=username,
    )


def user(user_id: int, first_name: str, **fields: Any) -> types.User:
    return types.User(id=user_id, access_hash=user_id * 3 + 1, first_name=first_name, **fields)


def reactions(
    emoji: dict[str, int] | None = None, custom: dict[int, int] | None = None, paid: int = 0
) -> types.MessageReactions:
    results = [
        types.ReactionCount(reaction=types.ReactionEmoji(e), count=n)
        for e, n in (emoji or {}).items()
    ]
    results += [
        types.ReactionCount(reaction=types.ReactionCustomEmoji(document_id=d), count=n)
        for d, n in (custom or {}).items()
    ]
    if paid:
        results.append(types.ReactionCount(reaction=types.ReactionPaid(), count=paid))
    return types.MessageReactions(results=results)


def thread(replies: int, discussion_id: int) -> types.MessageReplies:
    """The ``replies`` field of a channel post with a comments thread."""
    return types.MessageReplies(
        replies=replies, replies_pts=0, comments=True, channel_id=discussion_id
    )


def post(channel_id: int, post_id: int, date: datetime, **fields: Any) -> types.Message:
    return types.Message(
        id=post_id, peer_id=types.PeerChannel(channel_id), date=date, post=True, **fields
    )


def service(channel_id: int, post_id: int, date: datetime) -> types.MessageService:
    return types.MessageService(
        id=post_id,
        peer_id=types.PeerChannel(channel_id),
        date=date,
        action=types.MessageActionPinMessage(),
    )


def comment(
    discussion_id: int, comment_id: int, date: datetime, author: types.TypePeer | None
) -> types.Message:
    return types.Message(
        id=comment_id,
        peer_id=types.PeerChannel(discussion_id),
        date=date,
        message="a comment",
        from_id=author,
    )


INVITE_LINK = types.ChatInviteExported(link="https://t.me/+canned", admin_id=1, date=EPOCH)


def invite_link(link: str, title: str | None = None) -> types.ChatInviteExported:
    """An exported invite link (``title``: the name an admin gave it)."""
    return types.ChatInviteExported(link=link, admin_id=1, date=EPOCH, title=title)


PUBLIC_REQUEST = types.ChatInvitePublicJoinRequests()
"""The ``invite`` of a join request made through the public username, without a link."""


def banned(
    user_id: int, date: datetime, *, view_messages: bool = True, admin_id: int = 1
) -> types.ChannelParticipantBanned:
    """A participant banned by an admin: from viewing (removed), or only restricted."""
    return types.ChannelParticipantBanned(
        peer=types.PeerUser(user_id),
        kicked_by=admin_id,
        date=date,
        banned_rights=types.ChatBannedRights(until_date=None, view_messages=view_messages or None),
    )


def toggle_ban(
    event_id: int,
    date: datetime,
    prev: types.TypeChannelParticipant,
    new: types.TypeChannelParticipant,
    *,
    admin_id: int = 1,
) -> types.ChannelAdminLogEvent:
    """A ban toggle, logged under the admin who made it, as Telegram does."""
    action = types.ChannelAdminLogEventActionParticipantToggleBan(
        prev_participant=prev, new_participant=new
    )
    return types.ChannelAdminLogEvent(id=event_id, date=date, user_id=admin_id, action=action)


def member_event(
    event_id: int,
    date: datetime,
    action: str,
    user_id: int,
    *,
    admin_id: int = 1,
    invite: types.TypeExportedChatInvite = INVITE_LINK,
    via_chatlist: bool = False,
) -> types.ChannelAdminLogEvent:
    """An admin-log membership event; ``action`` as in docs/scenario-format.md. An ``invite`` is
    logged under the admin who added ``user_id``, as Telegram does; a ``kick`` is a ban
    toggle of a subscriber to banned from viewing, logged under the admin. ``invite`` is the
    link of a ``join_by_invite`` or ``join_by_request``. The answer carries the user
    object only when the user is in ``CannedTelegram.users``: leave it out to have
    Telegram omit it."""
    if action == "kick":
        prev = types.ChannelParticipant(user_id=user_id, date=date)
        return toggle_ban(event_id, date, prev, banned(user_id, date), admin_id=admin_id)
    actions = {
        "join": types.ChannelAdminLogEventActionParticipantJoin(),
        "join_by_invite": types.ChannelAdminLogEventActionParticipantJoinByInvite(
            invite=invite, via_chatlist=via_chatlist or None
        ),
        "join_by_request": types.ChannelAdminLogEventActionParticipantJoinByRequest(
            invite=invite, approved_by=admin_id
        ),
        "invite": types.ChannelAdminLogEventActionParticipantInvite(
            participant=types.ChannelParticipant(user_id=user_id, date=date)
        ),
        "leave": types.ChannelAdminLogEventActionParticipantLeave(),
    }
    actor = admin_id if action == "invite" else user_id
    return types.ChannelAdminLogEvent(id=event_id, date=date, user_id=actor, action=actions[action])


@attrs.define
class CannedTelegram:
    """Telegram as one account sees it. ``fail`` queues errors per request class name (or
    ``"any"``): the next such request raises the first one instead of being answered."""

    dialogs: list[types.Channel] = attrs.Factory(list)
    history: dict[int, list[Any]] = attrs.Factory(dict)
    """Channel id -> its messages, in any order (served newest first)."""
    threads: dict[tuple[int, int], list[types.Message]] = attrs.Factory(dict)
    """(channel id, post id) -> the post's comments; absent: the post has no thread."""
    discussions: dict[int, types.Channel] = attrs.Factory(dict)
    """Channel id -> its discussion group."""
    admin_log: dict[int, list[types.ChannelAdminLogEvent]] = attrs.Factory(dict)
    subscribers: dict[int, int | None] = attrs.Factory(dict)
    """Channel id -> its ``participants_count`` (None: Telegram leaves it out)."""
    users: dict[int, types.User] = attrs.Factory(dict)
    me: types.User | None = None
    """The signed-in account; None: the session is not authorised (401)."""
    fail: dict[str, list[BaseException]] = attrs.Factory(dict)
    requests: list[str] = attrs.Factory(list)
    """Class names of the requests that reached 'Telegram', in order."""
    read_by_id: list[list[int]] = attrs.Factory(list)
    """The ids of every channels.getMessages answered, in order."""

    def count(self, name: str) -> int:
        return self.requests.count(name)

    def add_users(self, *users: types.User) -> None:
        self.users.update((u.id, u) for u in users)

    def delete(self, channel_id: int, *post_ids: int) -> None:
        """Delete posts as Telegram does: history no longer lists them, a read by id
        answers MessageEmpty, their thread can no longer be read."""
        gone = set(post_ids)
        self.history[channel_id] = [m for m in self.history[channel_id] if m.id not in gone]
        for post_id in gone:
            self.threads.pop((channel_id, post_id), None)

    def answer(self, request: Any) -> Any:
        if isinstance(request, functions.InvokeWithoutUpdatesRequest):
            request = request.query
        name = type(request).__name__
        self.requests.append(name)
        queue = self.fail.get(name) or self.fail.get("any")
        if queue:
            raise queue.pop(0)
        handler = _HANDLERS.get(type(request))
        if handler is None:
            raise NotImplementedError(f"the canned Telegram does not answer {name}")
        return handler(self, request)

    def _channel(self, peer: Any, request: Any) -> types.Channel:
        wanted = getattr(peer, "channel_id", None)
        known = {c.id: c for c in (*self.dialogs, *self.discussions.values())}
        found = known.get(wanted)
        if found is None or peer.access_hash != found.access_hash:
            raise errors.ChannelInvalidError(request=request)
        return found

    def _get_history(self, r: functions.messages.GetHistoryRequest) -> Any:
        ch = self._channel(r.peer, r)
        everything = _newest_first(self.history.get(ch.id, []))
        page = _page(everything, r.offset_id, r.add_offset, r.limit, r.min_id, r.max_id)
        return _channel_messages(page, len(everything), [ch], [])

    def _get_messages(self, r: functions.channels.GetMessagesRequest) -> Any:
        ch = self._channel(r.channel, r)
        by_id = {m.id: m for m in self.history.get(ch.id, [])}
        ids = [getattr(i, "id", i) for i in r.id]
        self.read_by_id.append(ids)
        found = [by_id.get(i) or types.MessageEmpty(id=i, peer_id=None) for i in ids]
        return _channel_messages(found, len(by_id), [ch], [])

    def _get_replies(self, r: functions.messages.GetRepliesRequest) -> Any:
        ch = self._channel(r.peer, r)
        comments = self.threads.get((ch.id, r.msg_id))
        if comments is None:
            raise errors.MsgIdInvalidError(request=r)
        everything = _newest_first(comments)
        page = _page(everything, r.offset_id, r.add_offset, r.limit, r.min_id, r.max_id)
        authors = {m.from_id.user_id for m in page if isinstance(m.from_id, types.PeerUser)}
        users = [self.users[u] for u in sorted(authors) if u in self.users]
        return _channel_messages(page, len(everything), [ch, self.discussions[ch.id]], users)

    def _get_admin_log(self, r: functions.channels.GetAdminLogRequest) -> Any:
        ch = self._channel(r.channel, r)
        events = [
            e
            for e in sorted(self.admin_log.get(ch.id, []), key=lambda e: -e.id)
            if e.id > r.min_id and (not r.max_id or e.id < r.max_id) and _passes(e, r)
        ][: r.limit]
        ids = {u for e in events for u in _mentioned_users(e)}
        users = [self.users[u] for u in sorted(ids) if u in self.users]
        return channels.AdminLogResults(events=events, chats=[ch], users=users)

    def _get_full_channel(self, r: functions.channels.GetFullChannelRequest) -> Any:
        ch = self._channel(r.channel, r)
        full = types.ChannelFull(
            id=ch.id,
            about="",
            read_inbox_max_id=0,
            read_outbox_max_id=0,
            unread_count=0,
            chat_photo=types.PhotoEmpty(id=0),
            notify_settings=types.PeerNotifySettings(),
            bot_info=[],
            pts=1,
            participants_count=self.subscribers.get(ch.id),
        )
        return messages.ChatFull(full_chat=full, chats=[ch], users=[])

    def _get_dialogs(self, r: functions.messages.GetDialogsRequest) -> Any:
        shown = [*self.dialogs, *self.discussions.values()]
        dialogs = [
            types.Dialog(
                peer=types.PeerChannel(c.id),
                top_message=0,
                read_inbox_max_id=0,
                read_outbox_max_id=0,
                unread_count=0,
                unread_mentions_count=0,
                unread_reactions_count=0,
                unread_poll_votes_count=0,
                notify_settings=types.PeerNotifySettings(),
            )
            for c in shown
        ]
        return messages.Dialogs(dialogs=dialogs, messages=[], chats=shown, users=[])

    def _resolve_username(self, r: functions.contacts.ResolveUsernameRequest) -> Any:
        for c in self.dialogs:
            if c.username and c.username.lower() == r.username.lower():
                return contacts.ResolvedPeer(peer=types.PeerChannel(c.id), chats=[c], users=[])
        raise errors.UsernameNotOccupiedError(request=r)

    def _get_channels(self, r: functions.channels.GetChannelsRequest) -> Any:
        return messages.Chats(chats=[self._channel(i, r) for i in r.id])


def _get_users(telegram: CannedTelegram, r: functions.users.GetUsersRequest) -> Any:
    if telegram.me is None:
        raise errors.AuthKeyUnregisteredError(request=r)
    return [telegram.me]


_HANDLERS: dict[type, Callable[[CannedTelegram, Any], Any]] = {
    functions.users.GetUsersRequest: _get_users,
    functions.messages.GetHistoryRequest: CannedTelegram._get_history,
    functions.channels.GetMessagesRequest: CannedTelegram._get_messages,
    functions.messages.GetRepliesRequest: CannedTelegram._get_replies,
    functions.channels.GetAdminLogRequest: CannedTelegram._get_admin_log,
    functions.channels.GetFullChannelRequest: CannedTelegram._get_full_channel,
    functions.messages.GetDialogsRequest: CannedTelegram._get_dialogs,
    functions.contacts.ResolveUsernameRequest: CannedTelegram._resolve_username,
    functions.channels.GetChannelsRequest: CannedTelegram._get_channels,
}


def _newest_first(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda m: -m.id)


def _page(
    newest_first: Sequence[Any], offset_id: int, add_offset: int, limit: int, lo: int, hi: int
) -> list[Any]:
    """A history page as Telegram cuts it: below ``offset_id``, shifted by ``add_offset``,
    at most ``limit``, inside (``lo``, ``hi``) when those are set."""
    inside = [m for m in newest_first if (not lo or m.id > lo) and (not hi or m.id < hi)]
    start = next((i for i, m in enumerate(inside) if m.id < offset_id), len(inside))
    start = max(0, (start if offset_id else 0) + add_offset)
    return list(inside[start : start + limit])


def _channel_messages(found: list[Any], count: int, chats: list[Any], users: list[Any]) -> Any:
    return messages.ChannelMessages(
        pts=1, count=count, messages=found, topics=[], chats=chats, users=users
    )


def _passes(event: types.ChannelAdminLogEvent, r: Any) -> bool:
    action = event.action
    if isinstance(action, types.ChannelAdminLogEventActionParticipantToggleBan):
        flag: str | None = _toggle_flag(action.prev_participant, action.new_participant)
    else:
        flag = _LOG_FILTERS.get(type(action))
    return r.events_filter is None or flag is None or bool(getattr(r.events_filter, flag))


def _toggle_flag(prev: Any, new: Any) -> str:
    """The filter flag a ban toggle is filed under: ``kick`` when the participant is put
    out of the channel (banned from viewing, or marked left), ``unkick`` when let back from
    out, ``ban`` for a restriction, ``unban`` for lifting one. Telegram's own filing is not
    documented; the gateway asks for all four."""

    def out(p: Any) -> bool:
        if isinstance(p, types.ChannelParticipantLeft):
            return True
        return isinstance(p, types.ChannelParticipantBanned) and bool(
            p.banned_rights.view_messages or p.left
        )

    if out(new) and not out(prev):
        return "kick"
    if out(prev):
        return "unkick"
    return "ban" if isinstance(new, types.ChannelParticipantBanned) else "unban"


def _mentioned_users(event: types.ChannelAdminLogEvent) -> set[int]:
    """Users Telegram sends with an event: its actor, the participants and admins named in
    its action."""
    ids = {event.user_id}
    action = event.action
    participants = [
        getattr(action, name, None)
        for name in ("participant", "prev_participant", "new_participant")
    ]
    for p in participants:
        for name in ("user_id", "kicked_by", "inviter_id", "promoted_by"):
            if getattr(p, name, None):
                ids.add(getattr(p, name))
        peer = getattr(p, "peer", None)
        if isinstance(peer, types.PeerUser):
            ids.add(peer.user_id)
    if isinstance(action, types.ChannelAdminLogEventActionParticipantJoinByRequest):
        ids.add(action.approved_by)
    return ids


class _CannedSender:
    """Stands in for Telethon's MTProtoSender: answers instead of sending."""

    def __init__(self, telegram: CannedTelegram) -> None:
        self._telegram = telegram

    def send(self, request: Any, ordered: bool = False) -> Any:
        return self._answer(request)

    async def _answer(self, request: Any) -> Any:
        return self._telegram.answer(request)


def canned_client(
    telegram: CannedTelegram,
    *,
    flood_sleep_threshold: int = 60,
    receive_updates: bool = False,
    request_retries: int = 5,
) -> Any:
    """A ``TelegramClient`` configured as tgstat's session adapter builds it, answered by
    ``telegram``."""
    client = TelegramClient(
        MemorySession(),
        1,
        "0" * 32,
        receive_updates=receive_updates,
        request_retries=request_retries,
        flood_sleep_threshold=flood_sleep_threshold,
        raise_last_call_error=True,
    )
    client._sender = _CannedSender(telegram)
    return client


def canned_client_class(telegram: CannedTelegram) -> Any:
    """A TelegramClient subclass whose instances (built on a real session file by
    ``telethon.session.session_client``) are answered by ``telegram``, never connecting."""

    class CannedClient(TelegramClient):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._sender = _CannedSender(telegram)
            self._canned_connected = False

        async def connect(self) -> None:
            self._canned_connected = True

        def is_connected(self) -> bool:
            return self._canned_connected

        async def disconnect(self) -> None:
            self._canned_connected = False

    return CannedClient
