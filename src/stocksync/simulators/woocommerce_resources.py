"""REST v3 representations of the simulator's products, variations and orders.

Only the fields stock sync needs plus the ones that make payloads look like WooCommerce's
(woocommerce.md §2, §5.1). The same functions build API answers and webhook payloads, so a
webhook carries the resource as `GET /wc/v3/{resource}s/{id}` would return it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from stocksync.simulators import woocommerce_catalog
from stocksync.simulators.woocommerce_orders import Order, OrderLine, Refund
from stocksync.simulators.woocommerce_state import (
    Item,
    JsonObject,
    WooCommerceSimState,
)


def product_json(sim: WooCommerceSimState, item: Item) -> JsonObject:
    """A product, or a variation as `GET /products/{id}` and the `sku` filter show it."""
    holder = sim.stock_holder(item)
    quantity = holder.stock_quantity if holder is not None else None
    backorders = holder.backorders if holder is not None else item.backorders
    status = sim.stock_status(item)
    home = sim.config.home_url.rstrip("/")
    permalink = (f"{home}/product/{item.name.lower().replace(' ', '-')}/" if not item.parent_id
                 else f"{home}/?p={item.parent_id}&variation_id={item.id}")
    body: JsonObject = {
        "id": item.id,
        "name": item.name,
        "type": item.type,
        "status": "publish",
        "permalink": permalink,
        "date_created": item.created_gmt,
        "date_created_gmt": item.created_gmt,
        "date_modified": item.modified_gmt,
        "date_modified_gmt": item.modified_gmt,
        "sku": item.sku,
        "parent_id": item.parent_id,
        "manage_stock": item.manage_stock,
        "stock_quantity": quantity,
        "stock_status": status,
        "backorders": backorders,
        "backorders_allowed": backorders != "no",
        "backordered": status == "onbackorder",
        "low_stock_amount": None,
    }
    if item.type == "variable":
        body["variations"] = list(item.variation_ids)
    body.update(woocommerce_catalog.content_json(sim, item))  # content sync
    return body


def order_json(sim: WooCommerceSimState, order: Order) -> JsonObject:
    """GET /orders/{id} (and the order.* webhook payload): line meta as core lists it,
    `_reduced_stock` and `_restock_refunded_items` included (they are not internal keys)."""
    return {
        "id": order.id,
        "parent_id": 0,
        "number": str(order.id),
        "status": order.status,
        "currency": "USD",
        "date_created": local(sim, order.created_gmt),
        "date_created_gmt": order.created_gmt,
        "date_modified": local(sim, order.modified_gmt),
        "date_modified_gmt": order.modified_gmt,
        "total": money(order.total_cents),
        "line_items": [_line_json(sim, line) for line in order.lines],
        "refunds": [{"id": r.id, "reason": r.reason, "total": money(-r.amount_cents)}
                    for r in reversed(order.refunds)],
    }


def _line_json(sim: WooCommerceSimState, line: OrderLine) -> JsonObject:
    body = _product_ref(sim, line.item_id)
    body.update({
        "id": line.id,
        "quantity": line.quantity,
        "subtotal": money(line.price_cents * line.quantity),
        "total": money(line.price_cents * line.quantity),
        "meta_data": [{"id": m.id, "key": m.key, "value": m.value, "display_key": m.key,
                       "display_value": m.value} for m in line.meta],
        "price": line.price_cents / 100,
    })
    return body


def refund_json(sim: WooCommerceSimState, refund: Refund) -> JsonObject:
    """GET /orders/{id}/refunds: refunded quantities (negative), linked to the order line by
    `_refunded_item_id`; whether the refund restocked is not part of it (not stored)."""
    lines: list[JsonObject] = []
    for r in refund.lines:
        line = _product_ref(sim, r.item_id)
        line.update({"id": r.id, "quantity": -r.quantity, "subtotal": money(-r.total_cents),
                     "total": money(-r.total_cents),
                     "meta_data": [{"id": r.id, "key": "_refunded_item_id",
                                    "value": str(r.line_id)}],
                     "price": -(r.total_cents / r.quantity / 100) if r.quantity else 0})
        lines.append(line)
    return {"id": refund.id, "date_created": local(sim, refund.created_gmt),
            "date_created_gmt": refund.created_gmt, "amount": money(refund.amount_cents),
            "reason": refund.reason, "refunded_by": 1, "refunded_payment": False,
            "meta_data": [], "line_items": lines}


def _product_ref(sim: WooCommerceSimState, item_id: int) -> JsonObject:
    item = sim.items.get(item_id)
    is_variation = item is not None and item.parent_id != 0
    return {
        "name": item.name if item is not None else "Deleted product",
        "product_id": (item.parent_id if is_variation else item_id) if item else 0,
        "variation_id": item_id if is_variation else 0,
        "sku": item.sku if item is not None else None,
    }


def money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def local(sim: WooCommerceSimState, gmt: str) -> str:
    """A *_gmt value in the site's timezone (the field without _gmt)."""
    if not gmt:
        return gmt
    moment = datetime.fromisoformat(gmt) + timedelta(minutes=sim.config.utc_offset_minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def snapshot(sim: WooCommerceSimState) -> JsonObject:
    """GET /_sim/state: per SKU its ids and stock, plus the plain quantities."""
    items: dict[str, JsonObject] = {}
    for item in sim.items.values():
        holder = sim.stock_holder(item)
        items[item.sku] = {
            "id": item.id, "parent_id": item.parent_id, "type": item.type,
            "manage_stock": item.manage_stock,
            "stock_quantity": holder.stock_quantity if holder is not None else None,
            "stock_status": sim.stock_status(item),
        }
    return {
        "home_url": sim.config.home_url,
        "items": items,
        "quantities": {sku: item["stock_quantity"] for sku, item in items.items()
                       if item["stock_quantity"] is not None},
        "orders": [order_json(sim, order) for order in sim.orders.values()],
        "batch_limit": sim.batch_limit,
    }
