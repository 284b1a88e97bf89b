"""How the Square connector paces itself, and the one place where Square's HTTP answers
become ChannelErrors (square.md §1, §5).

Square publishes no numeric rate limits, only "429 RATE_LIMITED; back off exponentially with
jitter". So the connector spends a local token bucket (a configured rate and burst, kept
well under what Square is seen to allow) before every call, and on a 429 it halves that rate,
stops all calls until the back-off has passed, and earns the rate back step by step with
each success (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from stocksync.channels.base import RateLimited, Rejected, Unavailable
from stocksync.channels.http_errors import retry_after
from stocksync.channels.pacing import Pacer

JsonObject = dict[str, Any]  # JSON at the wire boundary

DEFAULT_REQUESTS_PER_SECOND = 5.0
DEFAULT_BURST = 5.0
MIN_REQUESTS_PER_SECOND = 0.5
RECOVERY_STEP = 0.05  # share of the configured rate regained per successful call
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 32.0
UNAVAILABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE",
                               "GATEWAY_TIMEOUT", "REQUEST_TIMEOUT", "BAD_GATEWAY"})


class SquarePacer(Pacer):
    """A token bucket in front of every Square call, shared by all calls of one connector,
    that halves its rate on a 429 and earns it back with each success."""

    def __init__(self, max_rate: float = DEFAULT_REQUESTS_PER_SECOND,
                 burst: float = DEFAULT_BURST, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        super().__init__(max_rate, max(1.0, burst), clock=clock, sleep=sleep)
        self.max_rate = max_rate
        self.jitter = jitter
        self.paused_until = 0.0
        self.strikes = 0  # 429s in a row
        self._lock = asyncio.Lock()

    @property
    def burst(self) -> float:
        return self.capacity

    async def acquire(self) -> None:
        """Wait until a call may go out. Waiters queue on the lock, so they leave in order
        and evenly spaced."""
        async with self._lock:
            while True:
                now = self.refill()
                wait = self.paused_until - now
                if wait <= 0:
                    if self.tokens >= 1.0:
                        self.tokens -= 1.0
                        return
                    wait = (1.0 - self.tokens) / self.rate
                await self.sleep(wait)

    def succeeded(self) -> None:
        self.strikes = 0
        self.rate = min(self.max_rate, self.rate + self.max_rate * RECOVERY_STEP)

    def rate_limited(self, retry_after: float | None) -> float:
        """Slow down after a 429; returns the seconds to wait before calling again."""
        self.strikes += 1
        if retry_after is None:  # exponential back-off with jitter, as Square recommends
            ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (self.strikes - 1))
            retry_after = ceiling * (0.5 + self.jitter() / 2)
        self.refill()
        self.rate = max(MIN_REQUESTS_PER_SECOND, self.rate / 2)
        self.tokens = 0.0
        self.paused_until = max(self.paused_until, self.clock() + retry_after)
        return retry_after


def errors_of(body: object) -> list[JsonObject]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def codes_of(body: object) -> list[str]:
    return [str(e.get("code")) for e in errors_of(body)]


def raise_for_status(response: httpx.Response, pacer: SquarePacer, *,
                     batch_errors: bool = False) -> tuple[int, JsonObject]:
    """(status, body) of a usable answer - 2xx, or 400 when `batch_errors` (the caller sorts
    per-change errors) - or the ChannelError this answer means."""
    status = response.status_code
    try:
        body: object = response.json()
    except ValueError:
        body = None
    codes = codes_of(body)
    if status == 429:
        # Whether Square sends Retry-After is unconfirmed (square.md §5): use it when present.
        raise RateLimited(f"Square answered 429 {codes}",
                          pacer.rate_limited(retry_after(response)))
    if status >= 500 or set(codes) & UNAVAILABLE_CODES or status == 408:
        raise Unavailable(f"Square answered {status} {codes}")
    if status in (401, 403):
        # UNAUTHORIZED, ACCESS_TOKEN_EXPIRED/REVOKED, INSUFFICIENT_SCOPES: a person must act
        # (no refresh token is configured for this channel, so there is nothing to refresh).
        raise Rejected(f"Square refused the access token ({status} {codes})", errors_of(body))
    if not isinstance(body, dict):
        if response.is_success:
            raise Unavailable(f"Square answered {status} without a JSON object")
        raise Rejected(f"Square answered {status}", response.text[:500])
    if response.is_success or (batch_errors and status == 400 and codes):
        pacer.succeeded()
        return status, body
    raise Rejected(f"Square answered {status} {codes}", errors_of(body))

