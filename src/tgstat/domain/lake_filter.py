"""The lake's chat filter (TGSTAT_BOT_CHAT_IDS), following group -> supergroup migrations
of the chats it keeps (pure).

A migration shows up twice: in the old group, a service message with
``migrate_to_chat_id``; in the new supergroup, one with ``migrate_from_chat_id``. Either,
in a kept chat's direction, makes the filter keep the new id from then on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from tgstat.domain.lake import chat_id_of, is_int, message_of


@attrs.frozen
class Verdict:
    """What the filter says of one update."""

    keep: bool
    chat_id: int | None
    """The chat the update happened in; None when its kind names none."""
    follows: tuple[int, int] | None = None
    """``(old, new)``: a migration of a kept chat this update reveals, to remember."""


def _closure(configured: frozenset[int], migrations: Mapping[int, int]) -> frozenset[int]:
    kept = set(configured)
    frontier = list(configured)
    while frontier:
        new = migrations.get(frontier.pop())
        if new is not None and new not in kept:
            kept.add(new)
            frontier.append(new)
    return frozenset(kept)


@attrs.frozen
class ChatFilter:
    """The configured chats plus every chat they migrated to."""

    configured: frozenset[int]
    migrations: Mapping[int, int] = attrs.field(factory=dict)
    """Migrations followed so far, old chat id -> new chat id."""
    kept: frozenset[int] = attrs.field(init=False)

    @kept.default
    def _kept(self) -> frozenset[int]:
        return _closure(self.configured, self.migrations)

    def decide(self, update: Mapping[str, Any]) -> Verdict:
        """Keep an update of a kept chat, or of the supergroup a kept group became; drop
        the rest, updates that name no chat included."""
        chat = chat_id_of(update)
        message = message_of(update)
        if chat in self.kept:
            new = message.get("migrate_to_chat_id") if message is not None else None
            if is_int(new) and new not in self.kept:
                return Verdict(True, chat, (chat, new))
            return Verdict(True, chat)
        old = message.get("migrate_from_chat_id") if message is not None else None
        if chat is not None and is_int(old) and old in self.kept:
            return Verdict(True, chat, (old, chat))
        return Verdict(False, chat)

    def follow(self, old: int, new: int) -> ChatFilter:
        """This filter, keeping ``new`` wherever it keeps ``old``."""
        return ChatFilter(self.configured, {**self.migrations, old: new})


def migrations_to_json(migrations: Mapping[int, int]) -> bytes:
    """The migrations as the JSON document the lake keeps them in."""
    pairs = [{"from": old, "to": new} for old, new in sorted(migrations.items())]
    return json.dumps({"migrations": pairs}, indent=1).encode()


def migrations_from_json(body: bytes) -> dict[int, int]:
    """The migrations in a document of ``migrations_to_json``; ValueError if it is not."""
    document = json.loads(body)
    pairs = document.get("migrations") if isinstance(document, dict) else None
    if not isinstance(pairs, list):
        raise ValueError("no list of migrations")
    migrations = {}
    for pair in pairs:
        old = pair.get("from") if isinstance(pair, dict) else None
        new = pair.get("to") if isinstance(pair, dict) else None
        if not (is_int(old) and is_int(new)):
            raise ValueError(f"not a migration: {pair!r}"[:120])
        migrations[old] = new
    return migrations
