"""Request pacing for WooCommerce stores, and the one place where WooCommerce HTTP failures
become ChannelErrors.

WooCommerce's REST API has no rate limit of its own; hosts and WAFs add one, with or
without headers (woocommerce.md §4). So the connector paces itself from what it is told:
a configured request rate (the channel's `max_requests_per_second`), `RateLimit-*` headers
when the host sends them (never more requests than `Remaining` before `Reset`), and a
`Retry-After` on a 429/503 (nothing is sent before it runs out).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from stocksync.channels.base import RateLimited, Rejected, Unavailable
from stocksync.channels.http_errors import retry_after

DEFAULT_RETRY_AFTER_S = 1.0
STORE_API_RETRY_AFTER = "RateLimit-Retry-After"  # the Store API limiter's own header
MAX_WAIT_S = 3600.0  # never trust a header into sleeping longer than this
WINDOW_MARGIN_S = 0.05  # our clock and the host's disagree a little
# RateLimit-Reset: delta seconds (IETF draft) or a Unix time (WooCommerce Store API limiter).
UNIX_TIME_THRESHOLD = 1_000_000_000
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")
_BATCH_LIMIT = re.compile(r"more than (\d+) items")


class BatchTooLarge(Rejected):
    """HTTP 413: the store's `woocommerce_rest_batch_items_limit` is below our batch size."""

    def __init__(self, message: str, details: object, limit: int | None) -> None:
        super().__init__(message, details)
        self.limit = limit


@dataclass(slots=True)
class WooCommercePacer:
    """Decides how long to wait before each request; `acquire` before, `settle` after.
    Not a token bucket (`Pacer`): the host's headers, not a known rate, say when to send."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    wall_clock: Callable[[], float] = time.time
    min_interval: float = 0.0  # 1 / configured requests per second
    next_at: float = 0.0
    blocked_until: float = 0.0  # Retry-After
    limit: int | None = None  # RateLimit-Limit
    remaining: int | None = None  # our estimate of RateLimit-Remaining
    reset_at: float | None = None
    in_flight: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self._wait()) > 0:
                await self.sleep(min(wait, MAX_WAIT_S))
            now = self.clock()
            self.next_at = max(now, self.next_at) + self.min_interval
            if self.remaining is not None:
                self.remaining -= 1
            self.in_flight += 1

    def _wait(self) -> float:
        now = self.clock()
        waits = [self.next_at - now, self.blocked_until - now]
        if self.remaining is not None and self.remaining <= 0:
            if self.reset_at is None:
                self.remaining = None  # no reset time given: nothing to wait for
            elif now >= self.reset_at:
                self.remaining, self.reset_at = self.limit, None  # a fresh window
            else:
                waits.append(self.reset_at - now)
        return max(waits)

    def settle(self, response: httpx.Response | None) -> None:
        self.in_flight -= 1
        if response is None:
            return
        now = self.clock()
        headers = response.headers
        remaining = _number(headers.get("RateLimit-Remaining"))
        if remaining is not None:
            limit = _number(headers.get("RateLimit-Limit"))
            self.limit = int(limit) if limit is not None else self.limit
            # The host counted this request; the ones still in flight are not in its figure.
            self.remaining = int(remaining) - self.in_flight
            reset = _number(headers.get("RateLimit-Reset"))
            if reset is not None and reset > UNIX_TIME_THRESHOLD:
                reset = reset - self.wall_clock()
            self.reset_at = (None if reset is None
                             else now + min(max(reset, 0.0), MAX_WAIT_S) + WINDOW_MARGIN_S)
        if response.status_code in (429, 503):
            wait = retry_after(response, also=STORE_API_RETRY_AFTER, cap=MAX_WAIT_S)
            if wait is None and response.status_code == 429:
                wait = DEFAULT_RETRY_AFTER_S
            if wait is not None:
                self.blocked_until = max(self.blocked_until, now + wait + WINDOW_MARGIN_S)


def raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if response.is_success:
        return
    code, message = _error_of(response)
    described = (f"WooCommerce answered {status}" + (f" {code}" if code else "")
                 + (f": {message}" if message else ""))
    if status in (401, 403):
        raise Rejected(f"WooCommerce refused the consumer key: {described}",
                       response.text[:500])
    if status == 413:
        found = _BATCH_LIMIT.search(message)
        raise BatchTooLarge(described, response.text[:500],
                            int(found.group(1)) if found else None)
    if status == 429:
        raise RateLimited(described, retry_after(response, also=STORE_API_RETRY_AFTER,
                                                  cap=MAX_WAIT_S) or DEFAULT_RETRY_AFTER_S)
    if status >= 500 or status == 408:
        raise Unavailable(described)
    raise Rejected(described, response.text[:500])


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of WooCommerce's {"code", "message", "data"} error body (§1)."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200]
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")


def _number(value: str | None) -> float | None:
    found = _LEADING_NUMBER.match(value) if value else None
    return float(found.group(1)) if found else None
