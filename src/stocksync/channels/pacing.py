"""The pacer: how stocksync keeps its calls to a platform within the platform's limits, so a
connector waits instead of being refused.

`Pacer` is a token bucket: `capacity` calls may go out back to back, then `rate` calls per
second. Platforms whose limits work differently pace with a subclass or a sibling named
after it, beside their connector: `SquarePacer` (slows down on 429s), `EbayPacer` (a daily
quota), `AmazonPacer` (one bucket per operation), `ShopifyPacer` (query cost points),
`WooCommercePacer` (rate headers sent by the host).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    """A token bucket shared by all calls of one connector (or, for a channel whose
    connector does not pace itself, by the pusher: its `max_requests_per_second`)."""

    def __init__(self, rate: float, capacity: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 tokens: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity if tokens is None else tokens  # starts full unless told
        self.clock = clock
        self.sleep = sleep
        self.updated_at = clock()

    def refill(self) -> float:
        """Add the tokens earned since the last look (never above capacity); returns now."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        return now

    def reserve(self, cost: float = 1.0) -> float:
        """Take the next slot; returns how long to wait before sending. Slots are taken
        synchronously, so concurrent callers queue up instead of racing, and idle time
        is not banked beyond `capacity`."""
        self.refill()
        self.tokens -= cost
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def take(self, cost: float = 1.0) -> None:
        wait = self.reserve(cost)
        if wait > 0:
            await self.sleep(wait)
