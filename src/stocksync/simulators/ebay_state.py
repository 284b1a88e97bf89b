"""State of the eBay Sell Inventory simulator: inventory items, offers and their listings,
OAuth tokens, the call quota, the daily revision cap, faults and logs.

Wire format: /work/shared/channels/ebay.md (cited below as "ebay.md §N"). Everything here is
plain in-memory data mutated from the server's single event loop, so no locks are needed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]  # a JSON object at the wire boundary

SELL_INVENTORY_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"
SELL_FULFILLMENT_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
FULFILLMENT_SCOPES = frozenset({SELL_FULFILLMENT_SCOPE, f"{SELL_FULFILLMENT_SCOPE}.readonly"})
GRANTED_SCOPES = frozenset({
    "https://api.ebay.com/oauth/api_scope",
    SELL_INVENTORY_SCOPE,
    f"{SELL_INVENTORY_SCOPE}.readonly",
    *FULFILLMENT_SCOPES,
})
MAX_SKU_LENGTH = 50  # ebay.md §2
MAX_TITLE_LENGTH = 80  # ebay.md §2, Product.title
REQUEST_LOG_SIZE = 10_000
VIOLATIONS_KEPT = 1_000
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class EbaySimConfig:
    """Start-up configuration; faults and limits can also be changed at runtime."""

    client_id: str = "stocksync-sim-app"
    client_secret: str = "stocksync-sim-cert"
    refresh_token: str = "v^1.1#i^1#stocksync-sim-refresh"
    # User access tokens live ~2 h (ebay.md §1, 7200 unconfirmed); tests use 1-2 s (>= 1).
    access_token_ttl_s: float = 7200.0
    # An expired token answers 401/1001 (the documented invalid-token error). Reports also
    # show 403/1100 "Access denied" for expired tokens on inventory_item (unconfirmed).
    expired_token_status: int = 401
    # Daily call quota of the Inventory API: 2,000,000/day is commonly cited (ebay.md §5,
    # unconfirmed). Counted in fixed windows aligned to the epoch (UTC midnight for a day).
    call_limit: int = 2_000_000
    call_window_s: float = DAY_S
    refresh_limit: int = 50_000  # refresh_token grants per app per day (ebay.md §1)
    revision_cap: int = 250  # revisions per listing per calendar day (ebay.md §2, §5)
    # bulkUpdatePriceQuantity: the call reference says one SKU per call, the guide and the
    # schema say up to 25 SKUs (ebay.md §4, unconfirmed). 1 = the strict reading.
    skus_per_call: int = 25
    retry_after_s: float | None = None  # no Retry-After on 429 is documented (ebay.md §5)
    seed_path: Path | None = None
    # Where ORDER_CONFIRMATION notifications are POSTed (the merchant's destination).
    notification_url: str | None = None
    # The Fulfillment API's own daily quota (100,000/day commonly cited, unconfirmed).
    fulfillment_call_limit: int = 100_000
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    force_rate_limit: bool = False


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    fail_next_n: int = 0  # the next N API calls answer `fail_status` (eBay 25001 body)
    fail_status: int = 503
    force_rate_limit: bool = False  # every API call answers 429 (transient, no violation)
    unauthorized_next_n: int = 0  # the next N API calls answer 401 whatever the token


@dataclass(slots=True)
class InventoryItem:
    sku: str
    title: str
    quantity: int  # availability.shipToLocationAvailability.quantity
    distributions: dict[str, int] = field(default_factory=dict)  # merchantLocationKey -> n
    condition: str = "NEW"
    locale: str = "en_US"


@dataclass(slots=True)
class Offer:
    offer_id: str
    sku: str
    marketplace_id: str
    available_quantity: int
    status: str  # PUBLISHED | UNPUBLISHED
    listing_id: str | None
    format: str = "FIXED_PRICE"
    price: str = "9.99"
    currency: str = "USD"
    merchant_location_key: str | None = None


@dataclass(slots=True)
class CallQuota:
    """`limit` calls per fixed window of `window_s` seconds aligned to the epoch."""

    limit: int
    window_s: float
    wall: Callable[[], float] = time.time
    window: int = -1
    count: int = 0

    def _roll(self) -> None:
        window = int(self.wall() // self.window_s)
        if window != self.window:
            self.window, self.count = window, 0

    def take(self) -> bool:
        self._roll()
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def rate(self) -> JsonObject:
        """One `rates[]` element of the Analytics API (ebay.md §5)."""
        self._roll()
        reset = datetime.fromtimestamp((self.window + 1) * self.window_s, UTC)
        return {"count": self.count, "limit": self.limit,
                "remaining": max(0, self.limit - self.count),
                "reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "timeWindow": int(self.window_s)}


@dataclass(slots=True)
class RequestRecord:
    """One call as the simulator saw it (GET /_sim/requests)."""

    seq: int
    at: str
    method: str
    path: str
    status: int
    outcome: str  # ok | partial | bad_request | not_found | unauthorized | expired_token |
    #               rate_limited | forced_rate_limited | fault | token_issued | token_refused
    skus: list[str] = field(default_factory=list)
    error_ids: list[int] = field(default_factory=list)
    body: JsonObject | None = None  # kept for bulk_update_price_quantity


@dataclass(frozen=True, slots=True)
class Violation:
    at: str
    kind: str  # rate_limited | revision_cap | token_quota
    detail: str
    sku: str | None = None
    listing_id: str | None = None


def ebay_error(error_id: int, message: str, *, category: str = "REQUEST",
               domain: str = "API_INVENTORY", long_message: str | None = None,
               parameters: list[JsonObject] | None = None) -> JsonObject:
    """One `errors[]` element in eBay's shape (ebay.md §4)."""
    error: JsonObject = {"errorId": error_id, "domain": domain, "subdomain": "Selling",
                         "category": category, "message": message}
    if long_message:
        error["longMessage"] = long_message
    if parameters:
        error["parameters"] = parameters
    return error


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EbaySimState:
    """The simulated seller account. Admin routes and API routes both go through here."""

    def __init__(self, config: EbaySimConfig, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if config.access_token_ttl_s < 1:
            raise ValueError("access tokens must live at least 1 s (expires_in is whole seconds)")
        self.config = config
        self.clock = clock
        self.wall = wall
        self.faults = Faults(config.latency_ms, config.fail_next_n, config.fail_status,
                             config.force_rate_limit)
        self.access_token_ttl_s = config.access_token_ttl_s
        self.revision_cap = config.revision_cap
        self.skus_per_call = config.skus_per_call
        self.quota = CallQuota(config.call_limit, config.call_window_s, wall)
        self.refresh_quota = CallQuota(config.refresh_limit, DAY_S, wall)
        self.items: dict[str, InventoryItem] = {}
        self.offers: dict[str, Offer] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (user | app, expires at)
        self.token_scopes: dict[str, frozenset[str]] = {}  # token -> scopes granted
        self.fulfillment_quota = CallQuota(config.fulfillment_call_limit,
                                           config.call_window_s, wall)
        self.revisions: dict[str, int] = {}  # listing id -> revisions on `revision_day`
        self.revision_day = self.today()
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.violations: deque[Violation] = deque(maxlen=VIOLATIONS_KEPT)
        self.violation_counts: dict[str, int] = {"rate_limited": 0, "revision_cap": 0,
                                                 "token_quota": 0}
        self.forced_rate_limited = 0
        self.expired_token_calls = 0
        self.tokens_issued = 0
        self._next_offer = 5_000_000_000
        self._next_listing = 110_000_000_000
        if config.seed_path is not None:
            self.load_seed(json.loads(Path(config.seed_path).read_text()))

    # -- OAuth ---------------------------------------------------------------------------
    def issue_token(self, kind: str, scopes: frozenset[str] = GRANTED_SCOPES
                    ) -> tuple[str, int]:
        """A token with `scopes` (a refresh without `scope` gets every consented one)."""
        token = f"v^1.1#i^1#{kind}#{secrets.token_urlsafe(24)}"
        ttl = self.access_token_ttl_s
        self.tokens[token] = (kind, self.clock() + ttl)
        self.token_scopes[token] = scopes or GRANTED_SCOPES
        self.tokens_issued += 1
        return token, int(ttl)  # whole seconds, never more than the token really lives

    def token_status(self, token: str | None) -> str:
        """user | app | expired | unknown."""
        found = self.tokens.get(token or "")
        if found is None:
            return "unknown"
        kind, expires_at = found
        return "expired" if self.clock() >= expires_at else kind

    def expire_tokens(self) -> None:
        now = self.clock()
        self.tokens = {t: (kind, min(at, now)) for t, (kind, at) in self.tokens.items()}

    # -- catalog -------------------------------------------------------------------------
    def add_item(self, sku: str, quantity: int, *, title: str = "Simulated item",
                 marketplace_id: str = "EBAY_US", offer: bool = True, published: bool = True,
                 listing_id: str | None = None, price: str = "9.99",
                 offer_quantity: int | None = None, listing_format: str = "FIXED_PRICE",
                 merchant_location_key: str | None = None) -> tuple[InventoryItem, Offer | None]:
        """Seed an inventory item and (optionally) its offer. `listing_id` of an existing
        listing makes the offer a variation of that multi-variation listing."""
        if not 0 < len(sku) <= MAX_SKU_LENGTH:
            raise ValueError(f"SKU must be 1-{MAX_SKU_LENGTH} characters")
        if len(title) > MAX_TITLE_LENGTH:
            raise ValueError(f"title must be at most {MAX_TITLE_LENGTH} characters")
        if sku in self.items:
            raise ValueError(f"SKU already exists: {sku!r}")
        if listing_id is not None and listing_id not in self.listing_ids():
            raise KeyError(listing_id)
        distributions = {merchant_location_key: quantity} if merchant_location_key else {}
        item = InventoryItem(sku, title, quantity, distributions)
        self.items[sku] = item
        if not offer:
            return item, None
        return item, self.add_offer(
            sku, marketplace_id, quantity if offer_quantity is None else offer_quantity,
            published=published, listing_id=listing_id, price=price,
            listing_format=listing_format, merchant_location_key=merchant_location_key)

    def add_offer(self, sku: str, marketplace_id: str, available_quantity: int, *,
                  published: bool = True, listing_id: str | None = None,
                  price: str = "9.99", listing_format: str = "FIXED_PRICE",
                  merchant_location_key: str | None = None) -> Offer:
        """An offer of an existing inventory item on a marketplace: one item can be
        offered (and listed) on several marketplaces, one offer per marketplace and
        format, each with its own availableQuantity."""
        if sku not in self.items:
            raise KeyError(sku)
        if any(o.marketplace_id == marketplace_id and o.format == listing_format
               for o in self.offers_of(sku)):
            raise ValueError(f"{sku!r} already has a {listing_format} offer on "
                             f"{marketplace_id}")
        self._next_offer += 1
        if published and listing_id is None:
            self._next_listing += 1
            listing_id = str(self._next_listing)
        created = Offer(str(self._next_offer), sku, marketplace_id, available_quantity,
                        "PUBLISHED" if published else "UNPUBLISHED",
                        listing_id if published else None, listing_format, price,
                        merchant_location_key=merchant_location_key)
        self.offers[created.offer_id] = created
        return created

    def load_seed(self, seed: JsonObject) -> None:
        """Seed file: {"items": [{"sku", "quantity", "title"?, "marketplace_id"?,
        "published"?, "listing_id"?, "price"?, "offer"?}]}."""
        for spec in seed.get("items", []):
            self.add_item(str(spec["sku"]), int(spec.get("quantity", 0)),
                          title=str(spec.get("title", "Simulated item")),
                          marketplace_id=str(spec.get("marketplace_id", "EBAY_US")),
                          offer=bool(spec.get("offer", True)),
                          published=bool(spec.get("published", True)),
                          listing_id=spec.get("listing_id"),
                          price=str(spec.get("price", "9.99")))

    def offers_of(self, sku: str) -> list[Offer]:
        return [offer for offer in self.offers.values() if offer.sku == sku]

    def listings_of(self, sku: str) -> set[str]:
        """Live listings an inventory-item change revises: those of its published offers."""
        return {o.listing_id for o in self.offers_of(sku)
                if o.status == "PUBLISHED" and o.listing_id is not None}

    def listing_ids(self) -> set[str]:
        return {o.listing_id for o in self.offers.values() if o.listing_id is not None}

    def merchant_sets(self, sku: str, quantity: int, offer_quantity: int | None,
                      revision: bool) -> InventoryItem:
        """A stock edit in Seller Hub. On eBay it revises the listing too; it only counts
        against the daily cap when asked (`revision`), so end-to-end tests can keep the
        cap for stocksync alone. The merchant is never refused."""
        item = self.items[sku]
        item.quantity = quantity
        if len(item.distributions) == 1:  # one location: it holds everything
            item.distributions = dict.fromkeys(item.distributions, quantity)
        for offer in self.offers_of(sku):
            offer.available_quantity = quantity if offer_quantity is None else offer_quantity
        if revision:
            for listing in self.listings_of(sku):
                self.revisions[listing] = self.revisions_today(listing) + 1
        return item

    # -- the daily revision cap (ebay.md §2, §5) -----------------------------------------
    def today(self) -> date:
        # "Calendar day": the time zone is not documented; UTC is assumed (unconfirmed).
        return datetime.fromtimestamp(self.wall(), UTC).date()

    def revisions_today(self, listing_id: str) -> int:
        if self.today() != self.revision_day:
            self.revisions, self.revision_day = {}, self.today()
        return self.revisions.get(listing_id, 0)

    def new_revision_day(self) -> None:
        self.revisions, self.revision_day = {}, self.today()

    # -- logs and snapshots --------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        self.requests.append(record)
        if record.outcome == "forced_rate_limited":
            self.forced_rate_limited += 1
        elif record.outcome == "expired_token":
            self.expired_token_calls += 1

    def next_seq(self) -> int:
        return (self.requests[-1].seq + 1) if self.requests else 1

    def violate(self, kind: str, detail: str, sku: str | None = None,
                listing_id: str | None = None) -> None:
        self.violation_counts[kind] += 1
        self.violations.append(Violation(now_iso(), kind, detail, sku, listing_id))

    def violations_report(self) -> JsonObject:
        return {"count": sum(self.violation_counts.values()), **self.violation_counts,
                "forced_rate_limited": self.forced_rate_limited,  # faults, not violations
                "expired_token_calls": self.expired_token_calls,  # refused, not a limit
                "violations": [_violation_json(v) for v in self.violations]}

    def snapshot(self) -> JsonObject:
        items: JsonObject = {}
        for sku, item in self.items.items():
            offers = self.offers_of(sku)
            published = [o.available_quantity for o in offers if o.status == "PUBLISHED"]
            items[sku] = {
                "quantity": item.quantity, "distributions": dict(item.distributions),
                # What buyers see: min(offer availableQuantity, ship-to-home qty) (ebay.md §3)
                "listed_quantity": min([item.quantity, *published]) if published else None,
                "offers": [{"offerId": o.offer_id, "marketplaceId": o.marketplace_id,
                            "status": o.status, "format": o.format,
                            "availableQuantity": o.available_quantity,
                            "listingId": o.listing_id,
                            "revisions_today": (self.revisions_today(o.listing_id)
                                                if o.listing_id else 0)} for o in offers]}
        return {"items": items,
                "revisions": {listing: self.revisions_today(listing)
                              for listing in sorted(self.listing_ids())},
                "revision_day": self.revision_day.isoformat(),
                "revision_cap": self.revision_cap,
                "skus_per_call": self.skus_per_call,
                "quota": self.quota.rate(), "refresh_quota": self.refresh_quota.rate(),
                "tokens_issued": self.tokens_issued}


def _violation_json(violation: Violation) -> JsonObject:
    return {"at": violation.at, "kind": violation.kind, "detail": violation.detail,
            "sku": violation.sku, "listing_id": violation.listing_id}
