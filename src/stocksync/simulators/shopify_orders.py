"""Orders in the Shopify simulator: placing, cancelling, refunding and editing, each moving
inventory as Shopify does and firing the webhooks Shopify fires.

- An order moves units available -> committed at the location it is taken from
  (shopify.md §2). An online order's payload has `location_id: null` (only POS orders name
  one); the simulator takes its units from the default location.
- A cancellation (orderCancel `restock`) records a refund whose lines carry `restock_type`
  `cancel` (units back to available) or `no_restock` (committed units leave, available
  unchanged), then fires orders/cancelled (the order, with that refund in `refunds`) and
  refunds/create (the refund).
- A refund line restocks per `restock_type` (RefundLineItemRestockType: cancel, return =
  restocked; no_restock = inventory untouched; legacy_restock is not accepted for new
  refunds).
- An order edit fires orders/edited with Shopify's `order_edit` shape (additions and
  removals as `{id, delta}` only). Added units are committed: a new variant becomes a new
  line; `increase` raises an existing line's `quantity` in place (orderEditSetQuantity on
  that line; whether Shopify splits such units into a new line is not published, and this
  is the harder case for a reader). Removed units are recorded as a refund with `cancel` or
  `no_restock` per the edit's restock choice (orderEditSetQuantity `restock`) and fire
  refunds/create. That Shopify records edit removals as refund lines is our reading of its
  changelog ("Addition of LineItem current_quantity": apps used refund line items to count
  removals), not a published sentence.
- Every change records a sales agreement (SalesAgreement: "Shopify creates a sales
  agreement whenever an order is placed, edited, or refunded"): OrderAgreement (reason
  ORDER), OrderEditAgreement (ORDER_EDIT), RefundAgreement (REFUND), each with one sale per
  line touched (actionType ORDER for units added, RETURN for units taken back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from stocksync.simulators.shopify_state import JsonObject, Level, gid, now_iso

if TYPE_CHECKING:
    from stocksync.simulators.shopify_state import ShopifySimState, Variant

RESTOCK_TYPES = ("cancel", "return", "no_restock")  # legacy_restock: not for new refunds


@dataclass(slots=True)
class SimOrder:
    payload: JsonObject  # the REST Order as webhooks carry it
    stock_location: int  # where its units were committed (online orders name none)
    remaining: dict[int, int] = field(default_factory=dict)  # line id -> not yet refunded
    agreements: list[JsonObject] = field(default_factory=list)  # {id, happened_at, reason,
    #                                                  sales: [{line_id, quantity, action}]}
    edited: bool = False


class OrderError(ValueError):
    """A request Shopify would refuse (unknown line, too many units, bad restock type)."""


class OrderBook:
    """The shop's orders; every change goes through the shared ShopifySimState."""

    def __init__(self, state: ShopifySimState) -> None:
        self.state = state
        self.orders: dict[int, SimOrder] = {}

    # -- placing -------------------------------------------------------------------------
    def place(self, lines: list[tuple[str, int]], location_id: int, *, online: bool
              ) -> JsonObject:
        resolved = self._resolve(lines, location_id)
        event_id = uuid4().hex
        for _, quantity, level in resolved:
            _commit(level, quantity)
        payload = self.state.order_payload(resolved, None if online else location_id)
        order = SimOrder(payload, location_id)
        for line in payload["line_items"]:
            order.remaining[line["id"]] = line["quantity"]
        self._agree(order, "ORDER", [(line["id"], line["quantity"], "ORDER")
                                     for line in payload["line_items"]], payload["created_at"])
        self.orders[payload["id"]] = order
        self.state.emit("orders/create", payload, event_id)
        for variant, _, _ in resolved:
            self.state.emit_level_update(variant.inventory_item_id, location_id, event_id)
        return payload

    def _resolve(self, lines: list[tuple[str, int]], location_id: int
                 ) -> list[tuple[Variant, int, Level]]:
        wanted: dict[str, int] = {}
        for sku, quantity in lines:
            wanted[sku] = wanted.get(sku, 0) + quantity
        resolved = []
        for sku, quantity in wanted.items():
            variant = self.state.variant_by_sku(sku)
            if variant is None:
                raise KeyError(sku)
            level = self.state.levels.get((variant.inventory_item_id, location_id))
            if level is None or level.available < quantity:
                raise ValueError(f"not enough {sku!r} available at location {location_id}")
            resolved.append((variant, quantity, level))
        return resolved

    # -- cancelling and refunding ------------------------------------------------------------
    def cancel(self, order_id: int, *, restock: bool) -> JsonObject:
        order = self._order(order_id)
        if order.payload["cancelled_at"] is not None:
            raise OrderError(f"order {order_id} is already cancelled")
        kind = "cancel" if restock else "no_restock"
        wanted = [(line_id, left, kind) for line_id, left in order.remaining.items() if left]
        event_id = uuid4().hex
        refund = self._refund(order, wanted, event_id)
        now = now_iso()
        order.payload.update(cancelled_at=now, cancel_reason="customer", updated_at=now,
                             financial_status="voided")
        self.state.emit("orders/cancelled", order.payload, event_id)
        self.state.emit("refunds/create", refund, event_id)
        return order.payload

    def refund(self, order_id: int, lines: list[tuple[int, int, str]]) -> JsonObject:
        order = self._order(order_id)
        event_id = uuid4().hex
        refund = self._refund(order, lines, event_id)
        self.state.emit("refunds/create", refund, event_id)
        return refund

    def _refund(self, order: SimOrder, lines: list[tuple[int, int, str]], event_id: str,
                reason: str | None = "REFUND") -> JsonObject:
        """Validate all lines, then record one REST Refund and move inventory per line."""
        by_id = {line["id"]: line for line in order.payload["line_items"]}
        for line_id, quantity, kind in lines:
            if line_id not in by_id:
                raise OrderError(f"line {line_id} is not on order {order.payload['id']}")
            if kind not in RESTOCK_TYPES:
                raise OrderError(f"restock_type {kind!r} is not accepted")
            if not 0 < quantity <= order.remaining[line_id]:
                raise OrderError(f"line {line_id} has {order.remaining[line_id]} to refund")
        refund_id, created = self.state.new_id(), now_iso()
        refund_lines = [self._refund_line(order, by_id[line_id], quantity, kind, event_id)
                        for line_id, quantity, kind in lines]
        refund = {"id": refund_id, "admin_graphql_api_id": gid("Refund", refund_id),
                  "order_id": order.payload["id"], "created_at": created, "note": None,
                  "user_id": None, "processed_at": created, "restock": None, "duties": [],
                  "refund_line_items": refund_lines, "transactions": [],
                  "order_adjustments": []}
        order.payload.setdefault("refunds", []).append(refund)
        order.payload["updated_at"] = created
        if reason is not None:
            self._agree(order, reason, [(line_id, quantity, "RETURN")
                                        for line_id, quantity, _ in lines], created)
        return refund

    def _agree(self, order: SimOrder, reason: str, sales: list[tuple[int, int, str]],
               happened_at: str) -> None:
        order.agreements.append({
            "id": self.state.new_id(), "happened_at": happened_at, "reason": reason,
            "sales": [{"line_id": line_id, "quantity": quantity, "action": action}
                      for line_id, quantity, action in sales]})

    def _refund_line(self, order: SimOrder, line: JsonObject, quantity: int, kind: str,
                     event_id: str) -> JsonObject:
        order.remaining[line["id"]] -= quantity
        line["current_quantity"] = order.remaining[line["id"]]
        variant = self.state.variant_by_sku(line["sku"])
        location_id = None
        if variant is not None:
            item_id = variant.inventory_item_id
            level = self.state.levels[(item_id, order.stock_location)]
            # Units of an unfulfilled line are committed: they leave committed either way, and
            # only a restock puts them back into available (no_restock: no available change).
            level.committed = max(0, level.committed - quantity)
            if kind != "no_restock":
                location_id = order.stock_location
                level.available += quantity
                level.updated_at = now_iso()
                self.state.emit_level_update(item_id, location_id, event_id)
        refund_line_id = self.state.new_id()
        return {"id": refund_line_id, "quantity": quantity, "line_item_id": line["id"],
                "location_id": location_id, "restock_type": kind, "subtotal": 0.0,
                "total_tax": 0.0, "line_item": dict(line)}

    # -- editing -------------------------------------------------------------------------
    def edit(self, order_id: int, add: list[tuple[str, int]],
             remove: list[tuple[int, int, bool]],
             increase: list[tuple[int, int]] | None = None) -> JsonObject:
        order = self._order(order_id)
        if order.payload["cancelled_at"] is not None:
            raise OrderError(f"order {order_id} is cancelled")
        resolved = self._resolve(add, order.stock_location) if add else []
        raised = self._resolve_increase(order, increase or [])
        event_id, edit_id, committed = uuid4().hex, self.state.new_id(), now_iso()
        additions: list[JsonObject] = []
        for variant, quantity, level in resolved:
            _commit(level, quantity)
            line = self.state.line_payload(variant, quantity)
            order.payload["line_items"].append(line)
            order.remaining[line["id"]] = quantity
            additions.append({"id": line["id"], "delta": quantity})
        for line, quantity, level in raised:
            _commit(level, quantity)
            line["quantity"] += quantity
            order.remaining[line["id"]] += quantity
            line["current_quantity"] = order.remaining[line["id"]]
            additions.append({"id": line["id"], "delta": quantity})
        for variant, _, _ in resolved:
            self.state.emit_level_update(variant.inventory_item_id, order.stock_location,
                                         event_id)
        for line, _, _ in raised:
            variant = self.state.variant_by_sku(line["sku"])
            if variant is not None:
                self.state.emit_level_update(variant.inventory_item_id,
                                             order.stock_location, event_id)
        refund = None
        if remove:
            wanted = [(line_id, quantity, "cancel" if restock else "no_restock")
                      for line_id, quantity, restock in remove]
            refund = self._refund(order, wanted, event_id, reason=None)
        self._agree(order, "ORDER_EDIT",
                    [(a["id"], a["delta"], "ORDER") for a in additions]
                    + [(line_id, quantity, "RETURN") for line_id, quantity, _ in remove],
                    committed)
        body = {"order_edit": {
            "id": edit_id, "app_id": None, "created_at": committed, "committed_at": committed,
            "notify_customer": False, "order_id": order_id, "staff_note": "", "user_id": None,
            "line_items": {"additions": additions,
                           "removals": [{"id": line_id, "delta": quantity}
                                        for line_id, quantity, _ in remove]},
            "discounts": {"line_item": {"additions": [], "removals": []}},
            "shipping_lines": {"additions": [], "removals": []}}}
        order.payload["updated_at"] = committed
        order.edited = True
        self.state.emit("orders/edited", body, event_id)
        if refund is not None:
            self.state.emit("refunds/create", refund, event_id)
        return body

    def _resolve_increase(self, order: SimOrder, increase: list[tuple[int, int]]
                          ) -> list[tuple[JsonObject, int, Level]]:
        by_id = {line["id"]: line for line in order.payload["line_items"]}
        resolved = []
        for line_id, quantity in increase:
            line = by_id.get(line_id)
            if line is None:
                raise OrderError(f"line {line_id} is not on order {order.payload['id']}")
            variant = self.state.variant_by_sku(line["sku"] or "")
            level = variant and self.state.levels.get(
                (variant.inventory_item_id, order.stock_location))
            if not level or level.available < quantity:
                raise ValueError(f"not enough {line['sku']!r} available")
            resolved.append((line, quantity, level))
        return resolved

    def _order(self, order_id: int) -> SimOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        return order


def _commit(level: Level, quantity: int) -> None:
    level.available -= quantity
    level.committed += quantity
    level.updated_at = now_iso()


def snapshot(book: OrderBook) -> list[dict[str, Any]]:
    return [order.payload for order in book.orders.values()]
