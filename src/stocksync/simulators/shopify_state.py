"""State of the Shopify simulator: catalog, inventory levels, cost bucket, faults and logs.

Wire format: /work/shared/channels/shopify.md (referred to below as "shopify.md §N").
Everything here is plain in-memory data mutated from the server's single event loop, so
no locks are needed: every state change happens between two awaits.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

JsonObject = dict[str, Any]  # a JSON object at the wire boundary
WebhookSink = Callable[[str, JsonObject, str], None]  # (topic, payload, event id)

GID_PREFIX = "gid://shopify"
REQUEST_LOG_SIZE = 10_000
IDEMPOTENCY_KEYS_KEPT = 10_000  # retention window is unconfirmed (shopify.md §3.4): keep many
FIRST_ORDER_NUMBER = 1001
# Quantity names a level exposes (shopify.md §2); the ones the simulator does not model are 0.
QUANTITY_NAMES = ("available", "on_hand", "committed", "reserved", "incoming", "damaged",
                  "safety_stock", "quality_control")


@dataclass(frozen=True, slots=True)
class ShopifySimConfig:
    """Start-up configuration. Faults and bucket sizes can also be changed at runtime."""

    access_token: str = "shpat_stocksync_simulator"
    shop: str = "stocksync-sim"  # -> stocksync-sim.myshopify.com
    seed_path: Path | None = None
    # Leaky bucket (shopify.md §4): the only published bucket size is 1,000 with 50 pts/s
    # (older docs, official JS client README); current plans restore 100-2,000 pts/s.
    maximum_available: float = 1000.0
    restore_rate: float = 50.0
    max_query_cost: int = 1000  # single-query cap (older doc; unconfirmed today)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_api_version: str = "2026-04"  # X-Shopify-API-Version: payload serialisation
    webhook_max_retries: int = 8  # since 2024-09-10: 8 retries over 4 h (shopify.md §6.4)
    webhook_retry_scale: float = 1.0  # multiply the 4-hour schedule (tests use ~0.0001)
    webhook_timeout_s: float = 5.0  # no 2xx within 5 s = failed delivery
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    force_throttle: bool = False

    @property
    def shop_domain(self) -> str:
        return f"{self.shop}.myshopify.com"


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    fail_next_n: int = 0  # the next N GraphQL calls answer `fail_status` (5xx)
    fail_status: int = 503
    force_throttle: bool = False  # every GraphQL call answers THROTTLED (bucket drained)


@dataclass(slots=True)
class CostBucket:
    """Shopify's per app+store leaky bucket of cost points (shopify.md §4)."""

    maximum_available: float
    restore_rate: float
    currently_available: float
    clock: Callable[[], float] = time.monotonic
    updated_at: float = field(default_factory=time.monotonic)

    def refill(self) -> None:
        now = self.clock()
        restored = (now - self.updated_at) * self.restore_rate
        self.currently_available = min(self.maximum_available,
                                       self.currently_available + restored)
        self.updated_at = now

    def take(self, cost: float) -> bool:
        """Deduct the requested cost up front, or refuse if the bucket cannot cover it."""
        self.refill()
        if cost > self.currently_available:
            return False
        self.currently_available -= cost
        return True

    def refund(self, points: float) -> None:
        self.currently_available = min(self.maximum_available,
                                       self.currently_available + points)

    def drain(self) -> None:
        self.refill()
        self.currently_available = 0.0

    def status(self) -> JsonObject:
        return {"maximumAvailable": float(self.maximum_available),
                "currentlyAvailable": int(self.currently_available),
                "restoreRate": float(self.restore_rate)}


@dataclass(slots=True)
class Location:
    id: int
    name: str


@dataclass(slots=True)
class Variant:
    id: int
    product_id: int
    sku: str
    title: str
    price: str
    inventory_item_id: int


@dataclass(slots=True)
class Product:
    id: int
    title: str
    variant_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Level:
    available: int
    committed: int = 0
    updated_at: str = ""

    @property
    def on_hand(self) -> int:
        return self.available + self.committed

    def quantity(self, name: str) -> int:
        if name == "available":
            return self.available
        if name == "committed":
            return self.committed
        if name == "on_hand":
            return self.on_hand
        return 0


@dataclass(slots=True)
class StoredResult:
    """What an idempotency key produced: replays return `payload` unchanged."""

    fingerprint: str
    payload: JsonObject
    failed: bool


@dataclass(slots=True)
class RequestRecord:
    """One GraphQL call as the simulator saw it (GET /_sim/requests)."""

    seq: int
    at: str
    api_version: str
    kind: str  # "query" | "mutation" | "unknown"
    root_field: str | None
    operation_name: str | None
    outcome: str  # ok | user_errors | throttled | error | unauthorized | fault
    requested_cost: int | None = None
    actual_cost: int | None = None
    idempotency_key: str | None = None
    replayed: bool = False
    codes: list[str] = field(default_factory=list)
    variables: JsonObject | None = None  # kept for mutations only


def gid(kind: str, numeric_id: int) -> str:
    return f"{GID_PREFIX}/{kind}/{numeric_id}"


def parse_gid(value: object, kind: str) -> int | None:
    """`gid://shopify/<kind>/<id>` (or a bare numeric id) -> id; anything else -> None."""
    text = str(value)
    prefix = f"{GID_PREFIX}/{kind}/"
    if text.startswith(prefix):
        text = text[len(prefix):]
    return int(text) if text.isdigit() else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ShopifySimState:
    """The simulated shop. Admin routes and GraphQL operations both go through here."""

    def __init__(self, config: ShopifySimConfig, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.config = config
        self.faults = Faults(config.latency_ms, config.fail_next_n, config.fail_status,
                             config.force_throttle)
        self.bucket = CostBucket(config.maximum_available, config.restore_rate,
                                 config.maximum_available, clock, clock())
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.variant_by_item: dict[int, int] = {}
        self.levels: dict[tuple[int, int], Level] = {}  # (inventory item, location)
        self.idempotency: OrderedDict[str, StoredResult] = OrderedDict()
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.throttled_count = 0
        # Units by which inventorySetQuantities raised an `available` level: where stock only
        # falls (the sales race), every one is a sold unit given back by a push.
        self.raised_by_sets = 0
        self.webhook_sink: WebhookSink | None = None
        self._next_id = 1000
        self._next_order_number = FIRST_ORDER_NUMBER
        from stocksync.simulators.shopify_orders import OrderBook  # it builds on this module

        self.orders = OrderBook(self)
        if config.seed_path is not None:
            self.load_seed(json.loads(Path(config.seed_path).read_text()))
        if not self.locations:
            self.add_location("Main warehouse")

    # -- ids and lookups ---------------------------------------------------------------
    def new_id(self) -> int:
        # One counter for every object type, so a variant id passed where an inventory item id
        # is expected fails loudly instead of hitting a different object by accident.
        self._next_id += 1
        return self._next_id

    @property
    def default_location_id(self) -> int:
        return min(self.locations)

    def variant_by_sku(self, sku: str) -> Variant | None:
        return next((v for v in self.variants.values() if v.sku == sku), None)

    # -- catalog -------------------------------------------------------------------------
    def add_location(self, name: str, location_id: int | None = None) -> Location:
        location = Location(location_id or self.new_id(), name)
        self.locations[location.id] = location
        self._next_id = max(self._next_id, location.id)
        return location

    def add_product(self, title: str, variants: list[JsonObject]) -> Product:
        """`variants`: [{sku, title?, price?, quantities: {location id: available}}].
        Raises ValueError (duplicate SKU) or KeyError (unknown location) before any change."""
        skus = [str(spec["sku"]) for spec in variants]
        clash = [sku for sku in skus if self.variant_by_sku(sku) is not None]
        if clash or len(set(skus)) != len(skus):
            raise ValueError(f"SKU already exists: {clash or skus}")
        levels: list[dict[int, int]] = []
        for spec in variants:
            quantities = spec.get("quantities") or {str(self.default_location_id): 0}
            by_location = {parse_gid(ref, "Location") or 0: int(available)
                           for ref, available in quantities.items()}
            if not set(by_location) <= set(self.locations):
                raise KeyError(f"unknown location in {sorted(quantities)}")
            levels.append(by_location)
        product = Product(self.new_id(), title)
        for spec, sku, by_location in zip(variants, skus, levels, strict=True):
            variant = Variant(self.new_id(), product.id, sku, str(spec.get("title", title)),
                              str(spec.get("price", "0.00")), self.new_id())
            self.variants[variant.id] = variant
            self.variant_by_item[variant.inventory_item_id] = variant.id
            product.variant_ids.append(variant.id)
            for location_id, available in by_location.items():
                self.levels[(variant.inventory_item_id, location_id)] = Level(
                    available, 0, now_iso())
        self.products[product.id] = product
        return product

    def load_seed(self, seed: JsonObject) -> None:
        """Seed file: {"locations": [{"id"?, "name"}], "products": [{"title", "sku"?,
        "price"?, "quantities"?, "variants"?: [{"sku", "title"?, "price"?, "quantities"?}]}]}."""
        for location in seed.get("locations", []):
            self.add_location(str(location["name"]), location.get("id"))
        if not self.locations:
            self.add_location("Main warehouse")
        for product in seed.get("products", []):
            self.add_product(str(product["title"]), product.get("variants") or [product])

    # -- inventory -----------------------------------------------------------------------
    def apply_quantity(self, item_id: int, location_id: int, name: str, quantity: int,
                       event_id: str) -> int:
        """Set `available` or `on_hand` (moving `available` by the same delta: committed is
        Shopify-managed, shopify.md §2). Returns the delta; fires inventory_levels/update."""
        level = self.levels[(item_id, location_id)]
        current = level.available if name == "available" else level.on_hand
        delta = quantity - current
        if delta:
            level.available += delta
            level.updated_at = now_iso()
            self.emit_level_update(item_id, location_id, event_id)
        return delta

    def merchant_sets_available(self, sku: str, available: int, location_id: int) -> Level:
        """A stock edit in the Shopify admin: no compare-and-set, fires the webhook."""
        variant = self.variant_by_sku(sku)
        if variant is None:
            raise KeyError(sku)
        key = (variant.inventory_item_id, location_id)
        if key not in self.levels:  # the admin can start stocking an item at a location
            self.levels[key] = Level(0, 0, now_iso())
        self.apply_quantity(*key, "available", available, uuid4().hex)
        return self.levels[key]

    def place_order(self, lines: list[tuple[str, int]], location_id: int, *,
                    online: bool = False) -> JsonObject:
        """An order (see shopify_orders.py): units available -> committed at `location_id`;
        fires orders/create plus inventory_levels/update under one X-Shopify-Event-Id.
        `online`: the payload's location_id is null, as for Online Store orders."""
        return self.orders.place(lines, location_id, online=online)

    def order_payload(self, lines: list[tuple[Variant, int, Level]], location_id: int | None
                      ) -> JsonObject:
        order_id, number = self.new_id(), self._next_order_number
        self._next_order_number += 1
        created = now_iso()
        return {
            "id": order_id, "admin_graphql_api_id": gid("Order", order_id), "name": f"#{number}",
            "order_number": number, "created_at": created, "updated_at": created,
            "cancelled_at": None, "cancel_reason": None, "financial_status": "paid",
            "fulfillment_status": None, "currency": "USD", "location_id": location_id,
            "test": True, "note_attributes": [], "refunds": [],
            "line_items": [self.line_payload(variant, quantity) for variant, quantity, _ in lines],
        }

    def line_payload(self, variant: Variant, quantity: int) -> JsonObject:
        line_id = self.new_id()
        return {"id": line_id, "admin_graphql_api_id": gid("LineItem", line_id),
                "variant_id": variant.id, "product_id": variant.product_id, "sku": variant.sku,
                "quantity": quantity, "current_quantity": quantity,
                "title": self.products[variant.product_id].title,
                "variant_title": variant.title, "price": variant.price,
                "fulfillment_status": None, "properties": []}

    # -- webhooks ------------------------------------------------------------------------
    def emit_level_update(self, item_id: int, location_id: int, event_id: str) -> None:
        level = self.levels[(item_id, location_id)]
        # REST InventoryLevel shape (shopify.md §6.1); only `available` is carried.
        self.emit("inventory_levels/update", {
            "inventory_item_id": item_id, "location_id": location_id,
            "available": level.available, "updated_at": level.updated_at,
            "admin_graphql_api_id": level_gid(item_id, location_id),
        }, event_id)

    def emit(self, topic: str, payload: JsonObject, event_id: str) -> None:
        if self.webhook_sink is not None:
            self.webhook_sink(topic, payload, event_id)

    # -- logs and snapshots --------------------------------------------------------------
    def record(self, record: RequestRecord) -> None:
        self.requests.append(record)
        if record.outcome == "throttled":
            self.throttled_count += 1

    def next_request_seq(self) -> int:
        return (self.requests[-1].seq + 1) if self.requests else 1

    def remember(self, key: str, result: StoredResult) -> None:
        self.idempotency[key] = result
        while len(self.idempotency) > IDEMPOTENCY_KEYS_KEPT:
            self.idempotency.popitem(last=False)

    def snapshot(self) -> JsonObject:
        skus: dict[str, dict[str, int]] = {}
        for variant in self.variants.values():
            skus[variant.sku] = {
                str(location_id): level.available
                for (item_id, location_id), level in self.levels.items()
                if item_id == variant.inventory_item_id}
        return {
            "shop": self.config.shop_domain,
            "locations": [{"id": loc.id, "gid": gid("Location", loc.id), "name": loc.name}
                          for loc in self.locations.values()],
            "variants": [{
                "sku": v.sku, "title": v.title, "price": v.price, "id": gid("ProductVariant", v.id),
                "product_id": gid("Product", v.product_id),
                "inventory_item_id": gid("InventoryItem", v.inventory_item_id),
                "levels": {str(location_id): {"available": level.available,
                                              "committed": level.committed,
                                              "on_hand": level.on_hand}
                           for (item_id, location_id), level in self.levels.items()
                           if item_id == v.inventory_item_id},
            } for v in self.variants.values()],
            "available": skus,  # sku -> {location id: available}
            "throttled_count": self.throttled_count,
            "raised_by_sets": self.raised_by_sets,
            "throttle_status": self.bucket.status(),
        }


def level_gid(item_id: int, location_id: int) -> str:
    # shopify.md §6.1 writes the level id as the location id; §2 calls it `levelId`. Using the
    # location id satisfies both and keeps the id stable for a given (item, location).
    return f"{GID_PREFIX}/InventoryLevel/{location_id}?inventory_item_id={item_id}"
