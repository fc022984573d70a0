"""Telethon: the TelegramGateway, run-time session files and interactive sign-in.

One technology, one package: its modules share the Telethon error classification.
"""

from tgstat.adapters.telethon.gateway import TelethonGateway
from tgstat.adapters.telethon.session import (
    SessionClient,
    TelethonSignIn,
    connect_authorized,
    session_client,
)

__all__ = [
    "SessionClient",
    "TelethonGateway",
    "TelethonSignIn",
    "connect_authorized",
    "session_client",
]
