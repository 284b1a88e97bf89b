"""Shopify's calculated-query-cost bucket as the connector sees it, and the one place where
Shopify HTTP and GraphQL failures become ChannelErrors (shopify.md §4).

Requested costs are estimated with the same rules the simulator documents (objects 1,
connections 2 + first x node cost, mutations 10); the server's `requestedQueryCost` is the
truth and every response's `throttleStatus` resets the estimate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from stocksync.channels.base import RateLimited, Rejected, Unavailable
from stocksync.channels.http_errors import json_object, retry_after

JsonObject = dict[str, Any]

MUTATION_COST = 10
LEVEL_COST_PER_ITEM = 3  # InventoryItem + InventoryLevel + one quantity name
VARIANT_COST_PER_NODE = 2  # ProductVariant + InventoryItem
VARIANT_PAGE_OVERHEAD = 2  # the connection itself
MAX_PAGE = 250
# Older docs and the official JS client README: bucket 1,000, 50 pts/s. Used until the first
# response tells us the shop's real numbers (they differ per plan, shopify.md §4).
ASSUMED_MAXIMUM = 1000.0
ASSUMED_RESTORE_RATE = 50.0
WAIT_MARGIN_S = 0.05  # timer granularity; our estimate already lags the server's clock
DEFAULT_RETRY_AFTER_S = 1.0  # what the official client sleeps on 429 without Retry-After
UNAVAILABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})


class CostTooHigh(Rejected):
    """MAX_COST_EXCEEDED: the query can never fit the bucket; ask for fewer items."""


@dataclass(slots=True)
class ShopifyPacer:
    """A local copy of Shopify's leaky bucket of query cost points, so the connector waits
    instead of being THROTTLED. Not a `Pacer` (calls cost points, and the bucket's size is
    unknown until the first answer), but used the same way: wait, spend, observe."""

    clock: Callable[[], float] = time.monotonic
    maximum_available: float = ASSUMED_MAXIMUM
    restore_rate: float = ASSUMED_RESTORE_RATE
    max_query_cost: float = ASSUMED_MAXIMUM
    available: float | None = None  # unknown until the first response
    observed_at: float = 0.0
    in_flight: float = field(default=0.0)  # requested cost of calls not answered yet

    def current(self) -> float | None:
        if self.available is None:
            return None
        restored = (self.clock() - self.observed_at) * self.restore_rate
        return min(self.maximum_available, self.available + restored)

    def wait_for(self, cost: float) -> float:
        """Seconds to sleep before a call of `cost` fits: deficit / restoreRate (§4)."""
        current = self.current()
        if current is None or cost <= current:
            return 0.0
        return (cost - current) / self.restore_rate + WAIT_MARGIN_S

    def spend(self, cost: float) -> None:
        current = self.current()
        if current is not None:
            self.available, self.observed_at = current - cost, self.clock()
        self.in_flight += cost

    def settle(self, cost: float) -> None:
        self.in_flight -= cost

    def observe(self, status: JsonObject) -> None:
        # The server's figure already includes this call; calls still in flight are not in it.
        self.maximum_available = float(status.get("maximumAvailable", self.maximum_available))
        self.restore_rate = float(status.get("restoreRate", self.restore_rate)) or 1.0
        current = float(status.get("currentlyAvailable", 0.0))
        self.available, self.observed_at = current - self.in_flight, self.clock()

    def fit(self, per_item: int, overhead: int) -> int:
        """How many items one query may ask for without exceeding the bucket or the cap."""
        budget = min(self.maximum_available, self.max_query_cost) - overhead
        return max(1, min(MAX_PAGE, int(budget // per_item)))

    def retry_after(self, requested: float) -> float:
        current = self.current() or 0.0
        return max(0.0, requested - current) / self.restore_rate + WAIT_MARGIN_S


def raise_for_status(response: httpx.Response, pacer: ShopifyPacer) -> JsonObject:
    """The `data` of a usable GraphQL answer, or the ChannelError the answer means: HTTP
    failures first, then errors in the body (which arrive with HTTP 200)."""
    status = response.status_code
    if status in (401, 403):
        raise Rejected(f"Shopify refused the credentials ({status})", response.text[:500])
    if status == 429:
        raise RateLimited("Shopify answered 429", retry_after(response, DEFAULT_RETRY_AFTER_S))
    if status >= 500:
        raise Unavailable(f"Shopify answered {status}")
    if not response.is_success:
        raise Rejected(f"Shopify answered {status}", response.text[:500])
    body = json_object(response, "Shopify")
    throttle = ((body.get("extensions") or {}).get("cost") or {}).get("throttleStatus")
    if throttle:
        pacer.observe(throttle)
    _raise_for_graphql_errors(body, pacer)
    data: JsonObject = body["data"]
    return data


def _raise_for_graphql_errors(body: JsonObject, pacer: ShopifyPacer) -> None:
    errors = body.get("errors")
    if not errors:
        if not isinstance(body.get("data"), dict):
            raise Unavailable("Shopify answered without data")
        return
    if not isinstance(errors, list):  # REST-style {"errors": "..."}
        raise Rejected(f"Shopify error: {errors}", errors)
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    cost = (body.get("extensions") or {}).get("cost") or {}
    if "THROTTLED" in codes:  # shopify.md §4: HTTP 200, body-level THROTTLED
        requested = float(cost.get("requestedQueryCost") or 0)
        raise RateLimited("Shopify throttled the query", pacer.retry_after(requested))
    if "MAX_COST_EXCEEDED" in codes:
        for error in errors:
            max_cost = (error.get("extensions") or {}).get("maxCost")
            if isinstance(max_cost, int | float):
                pacer.max_query_cost = float(max_cost)
        raise CostTooHigh("query cost exceeds Shopify's single-query limit", errors)
    if codes & UNAVAILABLE_CODES:
        raise Unavailable(f"Shopify GraphQL error {sorted(map(str, codes))}")
    raise Rejected(f"Shopify GraphQL error {sorted(map(str, codes))}", errors)

