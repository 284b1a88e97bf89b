"""State of the Square simulator: catalog, inventory, limits, faults, logs and violations.

Wire format: /work/shared/channels/square.md (cited as "square.md §N"). Plain in-memory data
mutated from the server's single event loop: every change happens between two awaits.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stocksync.simulators.square_inventory import (
    CountKey,
    InventoryBook,
    format_quantity,
    format_time,
    utc_now,
)

JsonObject = dict[str, Any]  # a JSON object at the wire boundary
CountSink = Callable[[list[JsonObject]], None]  # changed InventoryCounts -> webhook
EventSink = Callable[[str, JsonObject], None]  # (event type, data) -> webhook

REQUEST_LOG_SIZE = 5_000
VIOLATION_LOG_SIZE = 1_000
SCOPES = ("ITEMS_READ", "ITEMS_WRITE", "INVENTORY_READ", "INVENTORY_WRITE", "ORDERS_READ")


@dataclass(frozen=True, slots=True)
class SquareSimConfig:
    """Start-up configuration; faults and the rate limit can also be changed at runtime."""

    access_token: str = "EAAAEstocksyncSimulatorAccessToken"
    scopes: tuple[str, ...] = SCOPES  # granted to the token (square.md §1)
    merchant_id: str = "MLSTOCKSYNCSIM"
    location_id: str = "LSTOCKSYNC001"  # the first location
    location_name: str = "Main store"
    environment: str = "Sandbox"  # square-environment header on webhooks
    seed_path: Path | None = None
    # Limits (square.md §3-§4).
    max_changes_per_request: int = 100
    max_read_limit: int = 1000  # BatchRetrieveInventoryCounts `limit` is 1..1000
    counts_page_size: int = 1000  # the most counts one page returns (tests page with less)
    catalog_page_size: int = 1000  # the most objects one catalog search page returns
    # "It is possible to receive fewer results than the specified limit on a given page":
    # the most orders one SearchOrders page returns (tests page with less).
    orders_page_size: int = 1000
    max_occurred_at_age_s: float = 24 * 3600.0
    # Square does not say how much clock skew it forgives for "in the future": unconfirmed.
    future_tolerance_s: float = 60.0
    idempotency_keys_kept: int = 100_000  # retention period is not published (square.md §3)
    # Rate limit: Square publishes no numbers (square.md §5), so a token bucket per access
    # token that you size yourself. retry_after_s > 0 adds a Retry-After header to 429s
    # (its presence on Square is unconfirmed, so none by default).
    rate_limit_per_second: float = 10.0
    rate_limit_burst: float = 20.0
    retry_after_s: float = 0.0
    # Webhooks (square.md §6): retried with doubling intervals from 1 minute, capped at an
    # hour, for 72 hours (developer.squareup.com/docs/webhooks-api/delivery-sla; another doc
    # version says 24 h - set webhook_retry_window_s). Scale the schedule down in tests.
    webhook_url: str | None = None
    webhook_signature_key: str | None = None
    webhook_retry_window_s: float = 72 * 3600.0
    webhook_first_retry_s: float = 60.0
    webhook_max_retry_interval_s: float = 3600.0
    webhook_retry_scale: float = 1.0
    webhook_timeout_s: float = 10.0  # "respond within 10 seconds"
    # Faults at start-up.
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    force_rate_limit: bool = False


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    fail_next_n: int = 0  # the next N API calls answer `fail_status`
    fail_status: int = 503
    force_rate_limit: bool = False  # every API call answers 429 (not the client's fault)


@dataclass(slots=True)
class RateLimiter:
    """A token bucket per access token (the shape Square describes: too many requests for
    one token or application in too short a time)."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        self.tokens, self.updated_at = self.burst, self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def status(self) -> JsonObject:
        return {"rate_limit_per_second": self.rate, "rate_limit_burst": self.burst,
                "tokens": round(self.tokens, 3)}


@dataclass(slots=True)
class Location:
    id: str
    name: str


@dataclass(slots=True)
class Variation:
    id: str
    item_id: str
    sku: str
    name: str
    item_name: str
    price_cents: int = 0
    track_inventory: bool = True
    is_deleted: bool = False
    version: int = field(default_factory=lambda: int(time.time() * 1000))
    updated_at: str = field(default_factory=lambda: format_time(utc_now()))
    absent_at: list[str] = field(default_factory=list)  # absent_at_location_ids


@dataclass(slots=True)
class StoredResponse:
    """What an idempotency key produced: a same-body replay gets exactly this back."""

    fingerprint: str
    status: int
    body: JsonObject


@dataclass(slots=True)
class RequestRecord:
    """One API call as the simulator saw it (GET /_sim/requests)."""

    seq: int
    at: str
    elapsed_s: float  # since the simulator started, for pacing checks
    method: str
    path: str
    square_version: str | None
    status: int
    outcome: str  # ok | error | unauthorized | forbidden | rate_limited | forced_rate_limited
    #               | fault | replayed
    codes: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    changes: int | None = None  # BatchChangeInventory: changes in the request
    body: JsonObject | None = None  # kept for BatchChangeInventory only


@dataclass(slots=True)
class Violation:
    """A limit the client broke (GET /_sim/violations)."""

    seq: int
    at: str
    kind: str  # rate_limited | too_many_changes | idempotency_key_missing
    #            | idempotency_key_invalid | idempotency_key_reused | occurred_at_out_of_range
    #            | read_limit_out_of_range
    path: str
    detail: str


def new_object_id(length: int = 24) -> str:
    """Square-looking ids: upper-case base32 (FGQ5JJWT2PYTHF35CKZ2DSKP)."""
    return base64.b32encode(uuid.uuid4().bytes).decode()[:length]


class SquareSimState:
    """The simulated seller. Admin routes and API handlers both go through here."""

    def __init__(self, config: SquareSimConfig, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.config = config
        self.clock = clock
        self.started_at = clock()
        self.faults = Faults(config.latency_ms, config.fail_next_n, config.fail_status,
                             config.force_rate_limit)
        self.limiter = RateLimiter(config.rate_limit_per_second, config.rate_limit_burst,
                                   clock)
        self.retry_after_s = config.retry_after_s
        self.locations: dict[str, Location] = {}
        self.variations: dict[str, Variation] = {}
        self.inventory = InventoryBook()
        self.idempotency: OrderedDict[str, StoredResponse] = OrderedDict()
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.violations: deque[Violation] = deque(maxlen=VIOLATION_LOG_SIZE)
        self.violation_counts: dict[str, int] = {}
        self.forced_rate_limited = 0
        self.count_sink: CountSink | None = None
        self.event_sink: EventSink | None = None  # order.created / order.updated
        self.orders: dict[str, JsonObject] = {}  # order id -> Order wire object
        self.search_ends: dict[str, datetime] = {}  # SearchOrders cursor -> implied end_at
        self._seq = 0
        self.add_location(config.location_name, config.location_id)
        if config.seed_path is not None:
            self.load_seed(json.loads(Path(config.seed_path).read_text()))

    # -- catalog -------------------------------------------------------------------------
    def add_location(self, name: str, location_id: str | None = None) -> Location:
        location = Location(location_id or new_object_id(13), name)
        self.locations[location.id] = location
        return location

    def variations_by_sku(self, sku: str, include_deleted: bool = False) -> list[Variation]:
        return [v for v in self.variations.values()
                if v.sku == sku and (include_deleted or not v.is_deleted)]

    def add_item(self, sku: str, name: str, quantities: dict[str, int],
                 allow_duplicate_sku: bool = False, track_inventory: bool = True,
                 price_cents: int = 0) -> Variation:
        """An ITEM with one ITEM_VARIATION. Square itself allows two variations with one SKU;
        the admin API refuses that unless asked, so SKU-addressed admin calls stay clear.
        Raises ValueError (duplicate SKU) or KeyError (unknown location) before any change."""
        if self.variations_by_sku(sku) and not allow_duplicate_sku:
            raise ValueError(f"SKU {sku!r} already exists")
        unknown = set(quantities) - set(self.locations)
        if unknown:
            raise KeyError(f"unknown location(s) {sorted(unknown)}")
        variation = Variation(new_object_id(), new_object_id(), sku, "Regular", name,
                              price_cents, track_inventory)
        self.variations[variation.id] = variation
        now = utc_now()
        for location_id, quantity in quantities.items():  # seeding: no webhook
            self.inventory.physical_count(variation.id, location_id, "IN_STOCK",
                                          Decimal(quantity), now)
        return variation

    def delete_variation(self, variation: Variation) -> None:
        variation.is_deleted = True
        variation.version = int(time.time() * 1000)
        variation.updated_at = format_time(utc_now())

    def live_variation(self, object_id: object) -> Variation | None:
        variation = self.variations.get(str(object_id))
        return None if variation is None or variation.is_deleted else variation

    def load_seed(self, seed: JsonObject) -> None:
        """{"locations": [{"id"?, "name"}], "items": [{"sku", "name"?, "quantity"? (first
        location), "quantities"?: {location id: n}}]}"""
        for location in seed.get("locations", []):
            self.add_location(str(location["name"]), location.get("id"))
        for item in seed.get("items", []):
            quantities = item.get("quantities") or {self.config.location_id:
                                                    int(item.get("quantity", 0))}
            self.add_item(str(item["sku"]), str(item.get("name", item["sku"])),
                          {str(k): int(v) for k, v in quantities.items()})

    # -- webhooks ------------------------------------------------------------------------
    def counts_changed(self, keys: list[CountKey]) -> None:
        if keys and self.count_sink is not None:
            self.count_sink([self.inventory.wire(key) for key in dict.fromkeys(keys)])

    # -- logs ----------------------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def record(self, record: RequestRecord) -> None:
        self.requests.append(record)

    def violate(self, seq: int, kind: str, path: str, detail: str) -> None:
        self.violations.append(Violation(seq, format_time(utc_now()), kind, path, detail))
        self.violation_counts[kind] = self.violation_counts.get(kind, 0) + 1

    def violation_report(self) -> JsonObject:
        return {"count": sum(self.violation_counts.values()),
                "rate_limited": self.violation_counts.get("rate_limited", 0),
                "by_kind": dict(self.violation_counts),
                # 429s forced through /_sim/faults are the platform's doing, not violations
                "forced_rate_limited": self.forced_rate_limited,
                "violations": [asdict(v) for v in self.violations]}

    def clear_violations(self) -> None:
        self.violations.clear()
        self.violation_counts.clear()
        self.forced_rate_limited = 0

    def remember(self, key: str, stored: StoredResponse) -> None:
        self.idempotency[key] = stored
        while len(self.idempotency) > self.config.idempotency_keys_kept:
            self.idempotency.popitem(last=False)

    # -- snapshots -----------------------------------------------------------------------
    def snapshot(self) -> JsonObject:
        items: list[JsonObject] = []
        quantities: dict[str, dict[str, int | str]] = {}
        for v in self.variations.values():
            counts: dict[str, dict[str, str]] = {}
            for location_id in self.locations:
                for key in self.inventory.counts_of(v.id, location_id):
                    counts.setdefault(location_id, {})[key[2]] = format_quantity(
                        self.inventory.quantity(*key))
            items.append({"sku": v.sku, "catalog_object_id": v.id, "item_id": v.item_id,
                          "name": v.item_name, "is_deleted": v.is_deleted,
                          "track_inventory": v.track_inventory, "counts": counts})
            if not v.is_deleted and v.sku not in quantities:
                quantities[v.sku] = {loc: _whole_or_text(self.inventory.quantity(v.id, loc))
                                     for loc in self.locations}
        return {"merchant_id": self.config.merchant_id,
                "locations": [asdict(loc) for loc in self.locations.values()],
                "items": items,
                "quantities": quantities,  # sku -> {location id: IN_STOCK}
                "rate_limit": self.limiter.status(),
                "violations": sum(self.violation_counts.values())}


def _whole_or_text(quantity: Decimal) -> int | str:
    return int(quantity) if quantity == quantity.to_integral_value() else format_quantity(
        quantity)
