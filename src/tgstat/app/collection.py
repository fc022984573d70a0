"""Real collection runs: choose channels, give each session one Telegram client, collect
them concurrently with a bound. Used by the ``tg-collect`` flow and ``tgstat collect``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import attrs
import httpx

from tgstat.adapters.prefect_rest_scheduler import PrefectRestScheduler
from tgstat.adapters.replay import ReplayGateway, Scenario, WallClock
from tgstat.app.bootstrap import App
from tgstat.app.secrets import DeferredSealer
from tgstat.app.sessions import normalize_phone
from tgstat.app.settings import Settings
from tgstat.app.telegram import live_telegram
from tgstat.domain.errors import TgstatError
from tgstat.domain.ids import SessionPk
from tgstat.domain.model import ChannelConfig
from tgstat.domain.planning import MINUTE, FollowUpRun, minute_of
from tgstat.ports.gateway import SessionBannedError, TelegramGateway
from tgstat.ports.repository import ChannelBusyError, DatabaseUnavailableError, StatRepository
from tgstat.ports.scheduler import Scheduler, SchedulerError
from tgstat.services.collect import CollectPolicy, CollectReport, collect_channel
from tgstat.services.followup import measure_followups


class ChannelSelectionError(TgstatError):
    """Raised when the requested channel or phone matches no configured channel."""


class CollectionFailedError(TgstatError):
    """Raised after a run in which at least one channel failed; names each of them."""


class UnconfiguredScheduler(Scheduler):
    """Without PREFECT_API_URL follow-ups cannot be scheduled: they stay pending."""

    async def schedule(self, run: FollowUpRun) -> None:
        raise SchedulerError("PREFECT_API_URL is not set: follow-ups stay pending")


@attrs.frozen
class Outcome:
    """What happened to one channel in a run."""

    channel: ChannelConfig
    status: str  # "collected" | "skipped" | "failed"
    report: CollectReport | None = None
    error: str | None = None


GatewayLease = AbstractAsyncContextManager[tuple[TelegramGateway, SessionPk]]
GatewaySource = Callable[[ChannelConfig], GatewayLease]


def telethon_source(repository: StatRepository, settings: Settings) -> GatewaySource:
    """A live Telethon gateway per session group (see ``flows.telegram.live_telegram``)."""
    seal = DeferredSealer(settings)  # no key needed until a sealed session is opened

    @asynccontextmanager
    async def lease(channel: ChannelConfig) -> AsyncIterator[tuple[TelegramGateway, SessionPk]]:
        async with live_telegram(channel, repository, seal, settings) as live:
            assert live.session.pk is not None
            yield live.gateway, live.session.pk

    return lease


def replay_source(scenario: Scenario) -> GatewaySource:
    """The scenario's channel answered on the wall clock (TGSTAT_REPLAY_SCENARIO)."""
    gateway = ReplayGateway(scenario, WallClock())

    @asynccontextmanager
    async def lease(channel: ChannelConfig) -> AsyncIterator[tuple[TelegramGateway, SessionPk]]:
        yield gateway, channel.session_pk

    return lease


def select(
    channels: Sequence[ChannelConfig], channel: str | None, session_pks: set[SessionPk] | None
) -> list[ChannelConfig]:
    """Channels by title or id, by session, or all of them; ChannelSelectionError when none
    is configured at all (a run that collects nothing says so)."""
    if not channels:
        raise ChannelSelectionError(
            "no channel is configured: add one with `python -m tgstat.flows.add_channel"
            ' --phone P --channel "Title"` (or try `tgstat replay examples/demo-channel.json`)'
        )
    chosen = list(channels)
    if channel is not None:
        chosen = [c for c in chosen if channel in (c.name, str(c.channel_id))]
        if not chosen:
            raise ChannelSelectionError(f"no configured channel titled or numbered {channel!r}")
    if session_pks is not None:
        chosen = [c for c in chosen if c.session_pk in session_pks]
        if not chosen:
            raise ChannelSelectionError("no configured channel uses that phone's session")
    return chosen


Work = Callable[[ChannelConfig, TelegramGateway, SessionPk], Awaitable[CollectReport]]


async def collect_many(
    channels: Sequence[ChannelConfig],
    *,
    repository: StatRepository,
    scheduler: Scheduler,
    source: GatewaySource,
    concurrency: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    policy: CollectPolicy | None = None,
) -> list[Outcome]:
    """Collect every channel once; one channel's failure does not stop the others.

    Channels of one session share one client, in turn; sessions run concurrently, at most
    ``concurrency`` at once, all on this event loop (a Telethon client must not change
    loops).
    """

    async def cycle(c: ChannelConfig, gateway: TelegramGateway, pk: SessionPk) -> CollectReport:
        return await collect_channel(
            c.channel_id,
            repository=repository,
            gateway=gateway,
            scheduler=scheduler,
            now=clock(),
            session_pk=pk,
            policy=policy,
        )

    return await _each_channel(channels, source, concurrency, cycle)


async def followup_many(
    channels: Sequence[ChannelConfig],
    *,
    repository: StatRepository,
    source: GatewaySource,
    concurrency: int,
    due_by: datetime | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    policy: CollectPolicy | None = None,
) -> list[Outcome]:
    """A follow-up run over ``channels``: each channel's follow-ups due at or before
    ``max(due_by, now)`` and not measured yet are measured (``measure_followups``: their
    posts by id and new comments, nothing else). Only channels with such follow-ups are
    touched (one query finds them), so a run with nothing left to do opens no client.
    Sessions and failures as in ``collect_many``."""
    async with repository.session() as s:
        now = clock()
        todo = await s.channels_with_unmeasured(
            [c.channel_id for c in channels], max(due_by or now, now)
        )

    async def measure(c: ChannelConfig, gateway: TelegramGateway, pk: SessionPk) -> CollectReport:
        now = clock()
        return await measure_followups(
            c.channel_id,
            repository=repository,
            gateway=gateway,
            now=now,
            due_by=max(due_by or now, now),
            session_pk=pk,
            policy=policy,
        )

    chosen = [c for c in channels if c.channel_id in todo]
    return await _each_channel(chosen, source, concurrency, measure)


async def _each_channel(
    channels: Sequence[ChannelConfig], source: GatewaySource, concurrency: int, work: Work
) -> list[Outcome]:
    groups: dict[SessionPk, list[ChannelConfig]] = defaultdict(list)
    for channel in channels:
        groups[channel.session_pk].append(channel)
    bound = asyncio.Semaphore(concurrency)

    async def run_group(group: list[ChannelConfig]) -> list[Outcome]:
        async with bound:
            try:
                async with source(group[0]) as (gateway, session_pk):
                    return [await _one(c, gateway, session_pk, work) for c in group]
            except DatabaseUnavailableError:
                raise  # the database is gone for every channel: the run ends, in one line
            except TgstatError as e:  # no usable session, key error, banned on connect
                return [Outcome(c, "failed", error=_describe(e)) for c in group]

    results = await asyncio.gather(*(run_group(g) for g in groups.values()))
    return [outcome for group in results for outcome in group]


async def _one(
    channel: ChannelConfig, gateway: TelegramGateway, session_pk: SessionPk, work: Work
) -> Outcome:
    try:
        report = await work(channel, gateway, session_pk)
    except ChannelBusyError as e:
        return Outcome(channel, "skipped", error=str(e))
    except SessionBannedError as e:
        return Outcome(channel, "failed", error=f"{_describe(e)} (session {session_pk} banned)")
    except DatabaseUnavailableError:
        raise
    except TgstatError as e:
        return Outcome(channel, "failed", error=_describe(e))
    return Outcome(channel, "collected", report=report)


def _describe(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def summary(outcomes: Sequence[Outcome]) -> str:
    """One line per channel, for logs and the CLI."""
    lines = []
    for o in outcomes:
        head = f"{o.channel.name!r} ({o.channel.channel_id}): {o.status}"
        if o.report is not None:
            r = o.report
            head += (
                f", {r.posts_new} new posts, {r.posts_refreshed} refreshed,"
                f" {r.comments_fetched} comments, {r.events_merged} admin-log events,"
                f" {sum(r.requests.values())} requests"
            )
            if r.scheduler_error:
                head += f", {r.followups_pending} follow-ups pending ({r.scheduler_error})"
        if o.error is not None and o.status != "collected":
            head += f": {o.error}"
        lines.append(head)
    return "\n".join(lines)


def raise_for_failures(outcomes: Sequence[Outcome]) -> None:
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        names = "; ".join(f"{o.channel.name!r} ({o.error})" for o in failed)
        raise CollectionFailedError(f"{len(failed)} of {len(outcomes)} channels failed: {names}")


@asynccontextmanager
async def scheduler_for(settings: Settings) -> AsyncIterator[Scheduler]:
    if settings.prefect_api_url is None:
        yield UnconfiguredScheduler()
        return
    async with httpx.AsyncClient(base_url=settings.prefect_api_url, timeout=10) as http:
        yield PrefectRestScheduler(http)


async def run_collection(
    settings: Settings, app: App, channel: str | None, phone: str | None
) -> list[Outcome]:
    """The composition root of a real run: channels, gateways, scheduler."""
    async with app.repository.session() as s:
        channels = await s.list_channels()
        pks: set[SessionPk] | None = None
        if phone is not None:
            # as stored first (a dry run's "replay:..." session), else as a number is written
            enabled = {x.phone_number: x.pk for x in await s.enabled_sessions() if x.pk is not None}
            wanted = phone if phone in enabled else normalize_phone(phone)
            pks = {enabled[wanted]} if wanted in enabled else set()
    chosen = select(channels, channel, pks)
    async with scheduler_for(settings) as scheduler:
        return await collect_many(
            chosen,
            repository=app.repository,
            scheduler=scheduler,
            source=_source(settings, app),
            concurrency=settings.collect_concurrency,
            policy=_policy(settings),
        )


async def run_followups(
    settings: Settings, app: App, phone: str | None, minute: datetime
) -> list[Outcome]:
    """The composition root of a follow-up run (``FollowUpRun``): the channels of
    ``phone``'s session (as stored, the scheduler passes it verbatim; all channels when
    None) with follow-ups due by the end of ``minute``, or earlier, not measured yet."""
    async with app.repository.session() as s:
        channels = list(await s.list_channels())
        if phone is not None:
            pks = {x.pk for x in await s.enabled_sessions() if x.phone_number == phone}
            channels = [c for c in channels if c.session_pk in pks]
    return await followup_many(
        channels,
        repository=app.repository,
        source=_source(settings, app),
        concurrency=settings.collect_concurrency,
        due_by=minute_of(minute) + MINUTE - timedelta(microseconds=1),
        policy=_policy(settings),
    )


def _source(settings: Settings, app: App) -> GatewaySource:
    if settings.replay_scenario is not None:
        return replay_source(Scenario.load(settings.replay_scenario))
    return telethon_source(app.repository, settings)


def _policy(settings: Settings) -> CollectPolicy:
    return CollectPolicy(subscribers_every=timedelta(seconds=settings.subscribers_every_s))
