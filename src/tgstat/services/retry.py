"""Retrying transient Telegram errors with an attempt cap and a total-wait cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

import attrs

from tgstat.ports.gateway import DisconnectedError, RateLimitedError

P = ParamSpec("P")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@attrs.frozen
class RetryPolicy:
    """How long a cycle may wait for Telegram before it gives up (and the next cycle retries).

    A FloodWait longer than ``max_wait`` is not slept here: the error goes up at once.
    """

    max_attempts: int = 4
    max_wait: timedelta = timedelta(minutes=2)
    max_total_wait: timedelta = timedelta(minutes=4)
    reconnect_backoff: timedelta = timedelta(seconds=2)


@attrs.define
class Retrier:
    """Calls gateway methods under a RetryPolicy, counting retries and seconds waited."""

    policy: RetryPolicy
    sleep: Sleep
    retries: int = 0
    waited: float = 0.0

    async def __call__(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        attempt = 0
        while True:
            attempt += 1
            error: RateLimitedError | DisconnectedError
            try:
                return await fn(*args, **kwargs)
            except RateLimitedError as e:
                wait, error = e.retry_after, e
            except DisconnectedError as e:
                wait = self.policy.reconnect_backoff.total_seconds() * 2 ** (attempt - 1)
                error = e
            out_of_budget = (
                attempt >= self.policy.max_attempts
                or wait > self.policy.max_wait.total_seconds()
                or self.waited + wait > self.policy.max_total_wait.total_seconds()
            )
            if out_of_budget:
                raise error
            self.retries += 1
            self.waited += wait
            await self.sleep(wait)
