"""State of the Amazon SP-API simulator: config, LWA tokens, per-operation token buckets,
listings, delayed changes, request log, violations and notifications.

Wire format: /work/shared/channels/amazon.md ("amazon.md §N"). Plain in-memory data mutated
from the server's single event loop: every change happens between two awaits, so no locks.
Delayed work (a patch applied after `patch_apply_delay_s`, a feed finishing) sits in a
schedule that `advance()` runs, in due order, before anything reads or writes state.
"""

from __future__ import annotations

import heapq
import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

JsonObject = dict[str, Any]  # a JSON object at the wire boundary

REQUEST_LOG_SIZE = 10_000
NOTIFICATION_LOG_SIZE = 10_000
MERCHANT_FULFILLED = "DEFAULT"
# Default usage plans, (rate per second, burst) (amazon.md §2.2, §4).
DEFAULT_RATE_LIMITS: Mapping[str, tuple[float, float]] = {
    "getListingsItem": (5.0, 10.0),
    "putListingsItem": (5.0, 10.0),
    "patchListingsItem": (5.0, 5.0),
    "deleteListingsItem": (5.0, 5.0),
    "searchListingsItems": (5.0, 5.0),
    "createFeedDocument": (0.5, 15.0),
    "createFeed": (0.0083, 15.0),
    "getFeed": (2.0, 15.0),
    "getFeeds": (0.0222, 10.0),
    "getFeedDocument": (0.0222, 10.0),
    "cancelFeed": (2.0, 15.0),
    # Orders API v0 (models/orders-api-model/ordersV0.json).
    "getOrders": (0.0167, 20.0),
    "getOrder": (0.5, 30.0),
    "getOrderItems": (0.5, 30.0),
}


@dataclass(frozen=True, slots=True)
class AmazonSimConfig:
    """Start-up configuration. Faults, limits and delays can also be changed at runtime."""

    lwa_client_id: str = "amzn1.application-oa2-client.stocksyncsim"
    lwa_client_secret: str = "stocksync-sim-client-secret"
    refresh_token: str = "Atzr|stocksync-sim-refresh-token"
    seller_id: str = "A1STOCKSYNCSIM"
    marketplace_id: str = "ATVPDKIKX0DER"  # US
    access_token_lifetime_s: int = 3600  # LWA tokens live one hour (amazon.md §1)
    rate_limits: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # ACCEPTED patches are applied asynchronously (amazon.md §2.1); Amazon's delay is
    # unpublished (seconds to minutes). 0 = applied at the next request.
    patch_apply_delay_s: float = 0.0
    # Feed processing takes minutes at Amazon; a short default keeps local runs quick.
    feed_processing_delay_s: float = 2.0
    # Amazon asks for inventory feeds at most every 20 minutes: closer ones are violations.
    min_feed_interval_s: float = 1200.0
    # Patching a SKU with no listing: Amazon answers ACCEPTED and creates an offer-only
    # listing (maintainers in amzn/selling-partner-api-models#2797, #4402). "invalid" answers
    # INVALID with an ERROR issue instead (a simulator convenience; code unconfirmed).
    unknown_sku: str = "accept"
    compress_reports: bool = False  # processing reports as GZIP (compressionAlgorithm)
    # getOrders shows most changes about two minutes after they happen (Orders API docs);
    # 0 = at once, for quick tests.
    orders_visible_after_s: float = 0.0
    order_items_page_size: int = 100  # getOrderItems page size (not published by Amazon)
    # Where ORDER_CHANGE notifications are forwarded (what a deployment's SQS consumer does),
    # signed with the secret: see simulators/amazon_orders.py. None = not forwarded.
    order_forward_url: str | None = None
    order_forward_secret: str | None = None
    seed_path: Path | None = None
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    force_rate_limit: bool = False


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    fail_next_n: int = 0  # the next N SP-API calls answer `fail_status` (5xx)
    fail_status: int = 503
    force_rate_limit: bool = False  # every SP-API call answers 429 (transient, not counted)


@dataclass(slots=True)
class TokenBucket:
    """One operation's bucket: `rate` tokens per second up to `burst` (amazon.md §3)."""

    rate: float
    burst: float
    tokens: float
    updated_at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(slots=True)
class Listing:
    sku: str
    product_type: str
    asin: str | None  # None: an offer-only listing created by a patch (no catalog item)
    created_at: str
    updated_at: str
    fulfillment: dict[str, JsonObject] = field(default_factory=dict)  # channel code -> entry
    attributes: dict[str, Any] = field(default_factory=dict)  # other top-level attributes

    @property
    def quantity(self) -> int | None:
        quantity = self.fulfillment.get(MERCHANT_FULFILLED, {}).get("quantity")
        return quantity if isinstance(quantity, int) else None

    @property
    def status(self) -> list[str]:
        if self.asin is None:
            return []  # incomplete: no item, so neither discoverable nor buyable
        return ["BUYABLE", "DISCOVERABLE"] if self.quantity else ["DISCOVERABLE"]


@dataclass(slots=True)
class RequestRecord:
    """One call as the simulator saw it (GET /_sim/requests)."""

    seq: int
    at: str
    method: str
    path: str
    operation: str
    status: int
    outcome: str  # ok | invalid | not_found | bad_request | unauthorized | throttled | fault
    sku: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class Violation:
    seq: int
    at: str
    kind: str  # rate_limit | feed_interval
    operation: str
    detail: str


@dataclass(order=True, slots=True)
class Scheduled:
    due: float
    seq: int
    run: Callable[[], None] = field(compare=False)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AmazonSimState:
    """The simulated seller account. API routes and admin routes both go through here."""

    def __init__(self, config: AmazonSimConfig, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.config = config
        self.clock = clock
        self.faults = Faults(config.latency_ms, config.fail_next_n, config.fail_status,
                             config.force_rate_limit)
        self.patch_apply_delay_s = config.patch_apply_delay_s
        self.feed_processing_delay_s = config.feed_processing_delay_s
        self.min_feed_interval_s = config.min_feed_interval_s
        self.unknown_sku = config.unknown_sku
        self.orders_visible_after_s = config.orders_visible_after_s
        self.order_items_page_size = config.order_items_page_size
        self.buckets: dict[str, TokenBucket] = {}
        for operation, (rate, burst) in {**DEFAULT_RATE_LIMITS, **config.rate_limits}.items():
            self.set_rate_limit(operation, rate, burst)
        self.access_tokens: dict[str, float] = {}  # token -> expires at (clock)
        self.tokens_issued = 0
        self.listings: dict[str, Listing] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.violations: list[Violation] = []
        self.transient_rate_limited = 0  # forced 429s (faults): Amazon's "expected" ones
        self.notifications: deque[JsonObject] = deque(maxlen=NOTIFICATION_LOG_SIZE)
        self._schedule: list[Scheduled] = []
        self._seq = itertools.count(1)
        if config.seed_path is not None:
            self.load_seed(json.loads(Path(config.seed_path).read_text()))

    # -- time ------------------------------------------------------------------------------
    def later(self, delay_s: float, run: Callable[[], None]) -> None:
        heapq.heappush(self._schedule, Scheduled(self.clock() + delay_s, next(self._seq), run))
        if delay_s <= 0:
            self.advance()

    def advance(self) -> None:
        """Run every scheduled change that is due, oldest first."""
        now = self.clock()
        while self._schedule and self._schedule[0].due <= now:
            heapq.heappop(self._schedule).run()

    # -- auth ------------------------------------------------------------------------------
    def issue_token(self) -> tuple[str, int]:
        token = f"Atza|{secrets.token_urlsafe(24)}"
        lifetime = self.config.access_token_lifetime_s
        self.access_tokens[token] = self.clock() + lifetime
        self.tokens_issued += 1
        return token, lifetime

    def token_problem(self, token: str | None) -> str | None:
        """Why `token` may not call the API, or None if it may."""
        if not token:
            return "Access token is missing in the request header."
        expires_at = self.access_tokens.get(token)
        if expires_at is None:
            return "The access token you provided is revoked, malformed or invalid."
        if self.clock() >= expires_at:
            return "The access token you provided has expired."
        return None

    def expire_tokens(self) -> None:
        now = self.clock()
        for token in self.access_tokens:
            self.access_tokens[token] = now

    # -- limits ----------------------------------------------------------------------------
    def set_rate_limit(self, operation: str, rate: float, burst: float) -> None:
        self.buckets[operation] = TokenBucket(rate, burst, burst, self.clock())

    def take_token(self, operation: str) -> bool:
        bucket = self.buckets.get(operation)
        return bucket is None or bucket.take(self.clock())

    def rate_of(self, operation: str) -> float | None:
        bucket = self.buckets.get(operation)
        return bucket.rate if bucket else None

    def violate(self, kind: str, operation: str, detail: str) -> None:
        self.violations.append(Violation(len(self.violations) + 1, now_iso(), kind, operation,
                                         detail))

    def violation_report(self) -> JsonObject:
        kinds = [v.kind for v in self.violations]
        return {"count": len(self.violations),
                "rate_limited": kinds.count("rate_limit"),
                "feed_interval": kinds.count("feed_interval"),
                "transient_rate_limited": self.transient_rate_limited,
                "violations": [{"seq": v.seq, "at": v.at, "kind": v.kind,
                                "operation": v.operation, "detail": v.detail}
                               for v in self.violations]}

    # -- listings --------------------------------------------------------------------------
    def add_listing(self, sku: str, quantity: int | None, *, asin: str | None = None,
                    product_type: str = "PRODUCT",
                    fulfillment_extra: JsonObject | None = None) -> Listing:
        if sku in self.listings:
            raise ValueError(f"SKU already listed: {sku!r}")
        stamp = now_iso()
        listing = Listing(sku, product_type, asin or _fake_asin(), stamp, stamp)
        if quantity is not None:
            listing.fulfillment[MERCHANT_FULFILLED] = {
                "fulfillment_channel_code": MERCHANT_FULFILLED, "quantity": quantity,
                **(fulfillment_extra or {})}
        self.listings[sku] = listing
        return listing

    def offer_only_listing(self, sku: str, product_type: str) -> Listing:
        stamp = now_iso()
        listing = Listing(sku, product_type, None, stamp, stamp)
        self.listings[sku] = listing
        return listing

    def merchant_sets_quantity(self, sku: str, quantity: int) -> Listing:
        """A quantity edit in Seller Central, behind stocksync's back."""
        listing = self.listings[sku]
        before = listing.quantity
        entry = listing.fulfillment.setdefault(
            MERCHANT_FULFILLED, {"fulfillment_channel_code": MERCHANT_FULFILLED})
        entry["quantity"] = quantity
        listing.updated_at = now_iso()
        self.quantity_changed(listing, before)
        return listing

    def adjust_quantity(self, sku: str, delta: int) -> Listing:
        """Amazon itself moves the DEFAULT quantity: an order takes it, a cancellation may
        give it back. Other fields of the entry (handling time, restock date) stay."""
        listing = self.listings[sku]
        before = listing.quantity
        entry = listing.fulfillment.setdefault(
            MERCHANT_FULFILLED, {"fulfillment_channel_code": MERCHANT_FULFILLED})
        entry["quantity"] = max(0, (before or 0) + delta)
        listing.updated_at = now_iso()
        self.quantity_changed(listing, before)
        return listing

    def quantity_changed(self, listing: Listing, before: int | None) -> None:
        """Emit LISTINGS_ITEM_MFN_QUANTITY_CHANGE (amazon.md §5) when DEFAULT moved."""
        if listing.quantity is None or listing.quantity == before:
            return
        self.notifications.append({
            "NotificationVersion": "1.0", "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "PayloadVersion": "1.0", "EventTime": listing.updated_at,
            "Payload": {"SellerId": self.config.seller_id,
                        "FulfillmentChannelCode": MERCHANT_FULFILLED, "Sku": listing.sku,
                        "Quantity": listing.quantity},
            "NotificationMetadata": {"ApplicationId": self.config.lwa_client_id,
                                     "SubscriptionId": "stocksync-sim",
                                     "PublishTime": now_iso(), "NotificationId": str(uuid4())}})

    def load_seed(self, seed: JsonObject) -> None:
        """Seed file: {"items": [{"sku", "quantity"?, "asin"?, "product_type"?}]}."""
        for item in seed.get("items", []):
            quantity = item.get("quantity")
            self.add_listing(str(item["sku"]), None if quantity is None else int(quantity),
                             asin=item.get("asin"),
                             product_type=str(item.get("product_type", "PRODUCT")))

    # -- logs and snapshots ----------------------------------------------------------------
    def record(self, method: str, path: str, operation: str, status: int, outcome: str,
               sku: str | None = None, detail: str | None = None) -> None:
        seq = (self.requests[-1].seq + 1) if self.requests else 1
        self.requests.append(RequestRecord(seq, now_iso(), method, path, operation, status,
                                           outcome, sku, detail))

    def snapshot(self) -> JsonObject:
        self.advance()
        return {
            "seller_id": self.config.seller_id,
            "marketplace_id": self.config.marketplace_id,
            "quantities": {sku: listing.quantity for sku, listing in self.listings.items()},
            "listings": {sku: {
                "asin": listing.asin, "product_type": listing.product_type,
                "status": listing.status, "quantity": listing.quantity,
                "fulfillment_availability": list(listing.fulfillment.values()),
                "created_at": listing.created_at, "updated_at": listing.updated_at,
            } for sku, listing in self.listings.items()},
            "scheduled_changes": len(self._schedule),
            "tokens_issued": self.tokens_issued,
            "rate_limits": {op: {"rate": b.rate, "burst": b.burst}
                            for op, b in self.buckets.items()},
        }


def _fake_asin() -> str:
    return "B0" + uuid4().hex[:8].upper()
