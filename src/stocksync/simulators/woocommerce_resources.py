"""REST v3 representations of the simulator's products, variations and orders.

Only the fields stock sync needs plus the ones that make payloads look like WooCommerce's
(woocommerce.md §2, §5.1). The same functions build API answers and webhook payloads, so a
webhook carries the resource as `GET /wc/v3/{resource}s/{id}` would return it.
"""

from __future__ import annotations

from stocksync.simulators.woocommerce_state import (
    Item,
    JsonObject,
    Order,
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
    return body


def order_json(sim: WooCommerceSimState, order: Order) -> JsonObject:
    line_items: list[JsonObject] = []
    for line in order.lines:
        item = sim.items.get(line.item_id)
        is_variation = item is not None and item.parent_id != 0
        line_items.append({
            "id": line.id,
            "name": item.name if item is not None else "Deleted product",
            "product_id": (item.parent_id if is_variation else line.item_id) if item else 0,
            "variation_id": line.item_id if is_variation else 0,
            "quantity": line.quantity,
            "sku": item.sku if item is not None else None,
            "price": 0,
            "total": "0.00",
        })
    return {
        "id": order.id,
        "parent_id": 0,
        "number": str(order.id),
        "status": order.status,
        "currency": "USD",
        "date_created": order.created_gmt,
        "date_created_gmt": order.created_gmt,
        "date_modified": order.modified_gmt,
        "date_modified_gmt": order.modified_gmt,
        "total": "0.00",
        "line_items": line_items,
    }


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
