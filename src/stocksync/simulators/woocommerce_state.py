"""State of the WooCommerce simulator: catalog (products, variations), orders and faults.

Wire format: /work/shared/channels/woocommerce.md (cited below as "woocommerce.md §N").
Plain in-memory data mutated from the server's single event loop: every change happens
between two awaits, so no locks are needed. Request logs, limits and violations live in
woocommerce_limits.py; webhook delivery in woocommerce_webhooks.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stocksync.simulators.woocommerce_orders import (
    ORDER_STATUSES,
    REDUCING_STATUSES,
    Order,
    OrderDesk,
    Refund,
)

JsonObject = dict[str, Any]  # a JSON object at the wire boundary
# (topic, resource id): the deliverer builds the payload itself, at delivery time (§5.1).
WebhookSink = Callable[[str, int], None]

STOCK_STATUSES = ("instock", "outofstock", "onbackorder")
BACKORDERS = ("no", "notify", "yes")


@dataclass(frozen=True, slots=True)
class WooCommerceSimConfig:
    """Start-up configuration. Faults and limits can also be changed at runtime."""

    consumer_key: str = "ck_stocksync_simulator"
    consumer_secret: str = "cs_stocksync_simulator"
    key_permissions: str = "read_write"  # read | write | read_write (§1)
    home_url: str = "https://stocksync-sim.example/"  # X-WC-Webhook-Source (§5.2)
    wc_version: str = "9.9.0"
    wp_version: str = "6.8"
    seed_path: Path | None = None
    # `woocommerce_rest_batch_items_limit` filter (§3): create+update+delete per request.
    batch_limit: int = 100
    max_per_page: int = 100  # WordPress core cap on ?per_page= (§1, unconfirmed for Woo)
    # The wc/v3 API has no rate limit of its own (§4); hosts and WAFs add one. Off by default:
    # `rate_limit` requests per fixed window of `rate_limit_window_s`, 429 + Retry-After.
    rate_limit: int | None = None
    rate_limit_window_s: float = 10.0
    # Send RateLimit-Limit/-Remaining/-Reset (delta seconds) on every answer, as the Store
    # API's limiter and many proxies do; a bare WAF sends only Retry-After on the 429.
    rate_limit_headers: bool = True
    retry_after_s: int = 1  # Retry-After of forced 429s (fault `force_rate_limit`)
    # Webhooks (§5): one subscription per topic, like WooCommerce (a webhook has one topic).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_topics: tuple[str, ...] = ("product.updated", "order.created", "order.updated")
    webhook_delay_s: float = 0.0  # Action Scheduler queue latency before a delivery runs
    webhook_timeout_s: float = 60.0  # MINUTE_IN_SECONDS (§5.2)
    # `woocommerce_max_webhook_delivery_failures` (§5.3): the code disables when the count
    # is already above this, i.e. on the (max + 2)-th consecutive failure.
    webhook_max_failures: int = 5
    # A REST stock update saves the product, which fires woocommerce_update_product and so
    # product.updated (the echo of stocksync's own push).
    webhook_on_api_writes: bool = True
    # Whether an order's stock reduction also fires product.updated is unconfirmed (§5.1):
    # wc_update_product_stock() saves the product, so the default is yes.
    product_webhook_on_order: bool = True
    # The site's timezone: orders' date_created/date_modified (and modified_after without
    # dates_are_gmt) are local time, the *_gmt fields UTC.
    utc_offset_minutes: int = 0
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    force_rate_limit: bool = False


@dataclass(slots=True)
class Faults:
    latency_ms: int = 0
    fail_next_n: int = 0  # the next N API calls answer `fail_status` (5xx)
    fail_status: int = 503
    force_rate_limit: bool = False  # every API call answers 429 + Retry-After (transient)
    retry_after_s: int = 1  # the Retry-After of those forced 429s
    # Batch/PUT updates of these SKUs fail per item, as a plugin hooked into
    # woocommerce_rest_pre_insert_product_object refusing the save would.
    reject_skus: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Item:
    """A product (simple or variable) or a variation: in WordPress all are posts."""

    id: int
    type: str  # simple | variable | variation
    name: str
    sku: str
    parent_id: int = 0
    manage_stock: bool | str = True  # "parent": a variation using its parent's stock (§2)
    stock_quantity: int | None = None
    backorders: str = "no"
    stored_status: str = "instock"  # used when stock is not managed
    variation_ids: list[int] = field(default_factory=list)
    created_gmt: str = ""
    modified_gmt: str = ""


class ItemError(Exception):
    """A WooCommerce error for one item: batch answers carry it inline (§3)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def as_json(self) -> JsonObject:
        return {"code": self.code, "message": self.message, "data": {"status": self.status}}


def now_gmt() -> str:
    # WooCommerce's *_gmt fields: UTC, second resolution, no offset.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerceSimState:
    """The simulated store. REST routes, admin routes and webhooks all go through here."""

    def __init__(self, config: WooCommerceSimConfig) -> None:
        self.config = config
        self.faults = Faults(config.latency_ms, config.fail_next_n, config.fail_status,
                             config.force_rate_limit, config.retry_after_s)
        self.batch_limit = config.batch_limit
        self.items: dict[int, Item] = {}
        self.orders: dict[int, Order] = {}
        self.webhook_sink: WebhookSink | None = None
        self.desk = OrderDesk(self)
        self._next_id = 10  # one id sequence: posts, orders and line items, like WordPress
        self._next_meta_id = 1000  # woocommerce_order_itemmeta.meta_id
        if config.seed_path is not None:
            self.load_seed(json.loads(Path(config.seed_path).read_text()))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def new_meta_id(self) -> int:
        self._next_meta_id += 1
        return self._next_meta_id

    # -- catalog -------------------------------------------------------------------------
    def item_by_sku(self, sku: str) -> Item | None:
        return next((i for i in self.items.values() if i.sku == sku), None)

    def find_skus(self, skus: list[str]) -> list[Item]:
        """The `sku` filter of GET /products: a comma-separated list (plus the whole string
        as one SKU), matched like MySQL's default collation (case-insensitive), over
        products AND variations (WC_REST_Products_V2_Controller::prepare_objects_query
        forces post_type product + product_variation when `sku` is given)."""
        wanted = {s.casefold() for s in skus}
        return [i for i in self.items.values() if i.sku and i.sku.casefold() in wanted]

    def add_item(self, sku: str, quantity: int | None, *, name: str | None = None,
                 parent_sku: str | None = None, manage_stock: bool | str = True,
                 backorders: str = "no") -> Item:
        """A simple product, or a variation of the variable product `parent_sku` (created,
        without managed stock, when missing). Raises ValueError before any change."""
        if not sku or self.item_by_sku(sku) is not None:
            raise ValueError(f"Invalid or duplicated SKU: {sku!r}")
        if backorders not in BACKORDERS:
            raise ValueError(f"backorders must be one of {BACKORDERS}")
        parent = self.item_by_sku(parent_sku) if parent_sku else None
        if parent_sku and parent is not None and parent.type != "variable":
            raise ValueError(f"{parent_sku!r} is not a variable product")
        if manage_stock == "parent" and parent_sku is None:
            raise ValueError('manage_stock "parent" is only for variations')
        now = now_gmt()
        if parent_sku and parent is None:
            parent = Item(self.new_id(), "variable", parent_sku, parent_sku,
                          manage_stock=False, created_gmt=now, modified_gmt=now)
            self.items[parent.id] = parent
        item = Item(self.new_id(), "variation" if parent else "simple", name or sku, sku,
                    parent_id=parent.id if parent else 0, manage_stock=manage_stock,
                    stock_quantity=quantity if manage_stock is True else None,
                    backorders=backorders, created_gmt=now, modified_gmt=now)
        self.items[item.id] = item
        if parent is not None:
            parent.variation_ids.append(item.id)
        return item

    def set_parent_stock(self, parent_sku: str, quantity: int) -> Item:
        """Let a variable product manage stock for variations set to "parent"."""
        parent = self.item_by_sku(parent_sku)
        if parent is None or parent.type != "variable":
            raise KeyError(parent_sku)
        parent.manage_stock, parent.stock_quantity = True, quantity
        self._saved(parent)
        return parent

    def delete_item(self, item: Item) -> None:
        """Deleting a variable product deletes its variations (forced delete, §3)."""
        for child in list(item.variation_ids):
            self.items.pop(child, None)
        self.items.pop(item.id, None)
        if item.parent_id and item.parent_id in self.items:
            self.items[item.parent_id].variation_ids.remove(item.id)
        self.emit("product.deleted", item.id)

    def load_seed(self, seed: JsonObject) -> None:
        """{"products": [{"sku", "quantity"?, "name"?, "manage_stock"?, "backorders"?,
        "variations"?: [{"sku", "quantity"?, "manage_stock"?: true|false|"parent"}]}]}."""
        for product in seed.get("products", []):
            variations = product.get("variations")
            if not variations:
                self.add_item(str(product["sku"]), product.get("quantity"),
                              name=product.get("name"),
                              manage_stock=product.get("manage_stock", True),
                              backorders=product.get("backorders", "no"))
                continue
            for variation in variations:
                self.add_item(str(variation["sku"]), variation.get("quantity"),
                              name=variation.get("name"), parent_sku=str(product["sku"]),
                              manage_stock=variation.get("manage_stock", True))
            if product.get("quantity") is not None:
                self.set_parent_stock(str(product["sku"]), int(product["quantity"]))

    # -- stock ---------------------------------------------------------------------------
    def stock_holder(self, item: Item) -> Item | None:
        """The post whose stock applies: itself, its parent ("parent"), or none."""
        if item.manage_stock is True:
            return item
        if item.manage_stock == "parent":
            parent = self.items.get(item.parent_id)
            if parent is not None and parent.manage_stock is True:
                return parent
        return None

    def stock_status(self, item: Item) -> str:
        """Derived from quantity and backorders when stock is managed (§2, core behaviour)."""
        holder = self.stock_holder(item)
        if holder is None or holder.stock_quantity is None:
            return item.stored_status
        if holder.stock_quantity > 0:
            return "instock"
        return "onbackorder" if holder.backorders != "no" else "outofstock"

    def update_stock(self, item: Item, changes: JsonObject, *, by_api: bool) -> None:
        """Apply the stock fields of a REST update or a merchant edit, like
        prepare_object_for_database: stock_quantity only counts when stock is managed."""
        if item.sku in self.faults.reject_skus:
            raise ItemError("woocommerce_rest_cannot_edit",
                            "Sorry, you are not allowed to edit this resource.", 401)
        quantity = changes.get("stock_quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
            raise ItemError("rest_invalid_param", "Invalid parameter(s): stock_quantity")
        manage = changes.get("manage_stock")
        if manage is not None and not isinstance(manage, bool):
            raise ItemError("rest_invalid_param", "Invalid parameter(s): manage_stock")
        backorders = changes.get("backorders")
        if backorders is not None and backorders not in BACKORDERS:
            raise ItemError("rest_invalid_param", "Invalid parameter(s): backorders")
        status = changes.get("stock_status")
        if status is not None and status not in STOCK_STATUSES:
            raise ItemError("rest_invalid_param", "Invalid parameter(s): stock_status")
        if manage is not None:
            item.manage_stock = manage
        if backorders is not None:
            item.backorders = backorders
        if status is not None:
            item.stored_status = status
        if item.manage_stock is True:
            if quantity is not None:
                item.stock_quantity = quantity
        elif item.manage_stock is False:
            item.stock_quantity = None
        self._saved(item, by_api=by_api)

    def merchant_sets_stock(self, sku: str, quantity: int) -> Item:
        """A stock edit in wp-admin: the post whose stock applies gets the quantity."""
        item = self.item_by_sku(sku)
        if item is None:
            raise KeyError(sku)
        holder = self.stock_holder(item) or item
        holder.manage_stock, holder.stock_quantity = True, quantity
        self._saved(holder)
        return holder

    def _saved(self, item: Item, *, by_api: bool = False) -> None:
        item.modified_gmt = now_gmt()
        if not by_api or self.config.webhook_on_api_writes:
            self.emit("product.updated", item.id)

    # -- orders --------------------------------------------------------------------------
    def place_order(self, lines: list[tuple[str, int]], status: str,
                    price_cents: int = 1000) -> Order:
        """An order (created pending, then moved to `status`, reducing stock as core does).
        Checkout refuses a line a no-backorders item cannot cover. Raises KeyError (unknown
        SKU) or ValueError before any change."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"status must be one of {ORDER_STATUSES}")
        wanted: dict[int, int] = {}
        for sku, quantity in lines:
            item = self.item_by_sku(sku)
            if item is None or item.type == "variable":
                raise KeyError(sku)
            wanted[item.id] = wanted.get(item.id, 0) + quantity
        if status in REDUCING_STATUSES:
            needed: dict[int, int] = {}
            for item_id, quantity in wanted.items():
                holder = self.stock_holder(self.items[item_id])
                if holder is not None:
                    needed[holder.id] = needed.get(holder.id, 0) + quantity
            for holder_id, quantity in needed.items():
                holder = self.items[holder_id]
                if holder.backorders == "no" and (holder.stock_quantity or 0) < quantity:
                    raise ValueError(f"not enough stock of {holder.sku!r}")
        return self.desk.place([(item_id, qty, price_cents) for item_id, qty in wanted.items()],
                               status, now_gmt())

    def set_order_status(self, order_id: int, status: str) -> Order:
        """order.updated; the status hooks move stock as core WooCommerce does."""
        order = self.orders[order_id]
        self.desk.set_status(order, status, now_gmt())
        return order

    def refund_order(self, order_id: int, quantities: dict[int, int], *, restock: bool,
                     amount_cents: int | None = None, reason: str = "") -> Refund:
        return self.desk.refund(self.orders[order_id], quantities, restock=restock,
                                amount_cents=amount_cents, reason=reason, now=now_gmt())

    def saved_by_order(self, holder: Item) -> None:
        holder.modified_gmt = now_gmt()
        if self.config.product_webhook_on_order:
            self.emit("product.updated", holder.id)

    def emit(self, topic: str, resource_id: int) -> None:
        if self.webhook_sink is not None:
            self.webhook_sink(topic, resource_id)
