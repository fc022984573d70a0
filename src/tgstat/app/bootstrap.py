"""The composition root: builds adapters from settings and owns their lifetimes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from tgstat.adapters.postgres import PostgresStatRepository
from tgstat.app.database import open_pool
from tgstat.app.migrate import migrate
from tgstat.app.settings import Settings
from tgstat.ports.repository import StatRepository


@attrs.frozen
class App:
    """Ready adapters for the shell's commands and flows."""

    settings: Settings
    database_url: str
    repository: StatRepository


@asynccontextmanager
async def bootstrap(
    settings: Settings, database_url: str, *, migrated: bool = True
) -> AsyncIterator[App]:
    """Open the pool on ``database_url`` (applying pending migrations first when
    ``migrated``) and yield the app; everything is closed on exit."""
    if migrated:
        migrate(database_url)
    async with open_pool(database_url, settings.pool_max_size) as pool:
        yield App(settings, database_url, PostgresStatRepository(pool))
