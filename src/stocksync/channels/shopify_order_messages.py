"""A Shopify Order read over GraphQL -> the inbound messages its webhooks give (pure).

Keys (the same whichever way the order reached stocksync):
- sale: `shopify:<order id>:<line id>` for the units a line was first sold with; the
  quantity is the line's `quantity` when the order was never edited (LineItem.quantity:
  "The number of units ordered, including refunded and removed units", so a refund or
  cancellation does not change it), which is what orders/create carried;
- units an order edit added to a line that already had units: `<sale key>:edit:<agreement
  id>`. An edited order (Order.edited) is read through its sales agreements ("Shopify
  creates a sales agreement whenever an order is placed, edited, or refunded ... records a
  sale for each line item"): the ORDER-action sales of each agreement, oldest first. A line
  first sold in agreement A (the order itself, or an edit that added the line) takes the
  plain sale key with A's units; any later ORDER sale of that line is an increase and keys
  on that agreement's id. The agreements are immutable history, so every read derives the
  same keys and quantities: an increase is sold once, and it does not matter whether
  Shopify raised the line's quantity in place or gave the units a new line;
- return: `<sale key>:refund:<refund line item id>` for a refund line whose restockType is
  CANCEL, RETURN or LEGACY_RESTOCK (RefundLineItemRestockType), as refunds/create and
  orders/cancelled give it. Units an edit removed come back only that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, InboundMessage
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.shopify import RESERVATION_ATTRIBUTE, RESTOCKING_TYPES

JsonObject = dict[str, Any]
KIND = "shopify"


class IncompleteOrder(ValueError):
    """The order has more lines, refunds or agreements than one read returned."""


def numeric_id(value: object) -> str:
    """`gid://shopify/Order/123` or `123` -> `123`."""
    return str(value).rsplit("/", 1)[-1].split("?", 1)[0]


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def order_messages(order: JsonObject, agreements: list[JsonObject] | None,
                   locations: Mapping[str, str]) -> list[InboundMessage]:
    """Sales (per line, plus edit increases) then restocking returns of one Order.
    `agreements` (oldest first) is required when `order["edited"]`; `locations` maps a
    Shopify location id to a stocksync location code."""
    order_id = numeric_id(order["id"])
    reference = order.get("name")
    located = order.get("retailLocation") or None  # POS orders only
    location = locations.get(numeric_id(located["id"])) if located else None
    occurred_at = parse_time(order.get("createdAt"))
    order_reservation = _reservation(order.get("customAttributes"))
    lines = _nodes(order, "lineItems", f"order {order_id}")
    sold = (_edited_units(agreements, order_id) if order.get("edited")
            else {numeric_id(line["id"]): [(None, int(line["quantity"]))] for line in lines})
    messages: list[InboundMessage] = []
    for line in lines:
        line_id, sku = numeric_id(line["id"]), line.get("sku")
        if not sku or not is_valid_sku(sku):
            messages.append(Ignored(f"order {order_id} line {line_id}: no SKU stocksync holds"))
            continue
        reservation = _reservation(line.get("customAttributes")) or order_reservation
        for agreement_id, quantity in sold.get(line_id, []):
            key = f"{KIND}:{order_id}:{line_id}"
            if agreement_id is not None:
                key, reservation = f"{key}:edit:{agreement_id}", None
            messages.append(ChannelSale(
                sku=sku, quantity=quantity, key=key, location=location,
                reservation_id=reservation, occurred_at=occurred_at, reference=reference))
    for refund in _refunds(order, order_id):
        messages += _refund_returns(refund, order_id, reference, locations)
    return messages


def _edited_units(agreements: list[JsonObject] | None, order_id: str
                  ) -> dict[str, list[tuple[str | None, int]]]:
    """line id -> [(None for the first sale of the line | agreement id, units)]."""
    if agreements is None:
        raise IncompleteOrder(f"order {order_id} was edited: its agreements are needed")
    ordered = sorted(agreements, key=lambda a: (parse_time(a.get("happenedAt")) or datetime.min,
                                                int(numeric_id(a["id"]))))
    sold: dict[str, list[tuple[str | None, int]]] = {}
    for agreement in ordered:
        added: dict[str, int] = {}
        for sale in _nodes(agreement, "sales", f"order {order_id} agreement"):
            line = sale.get("lineItem")
            if sale.get("actionType") != "ORDER" or not line or int(sale["quantity"]) <= 0:
                continue  # RETURN/UPDATE sales take nothing from stock by themselves
            line_id = numeric_id(line["id"])
            added[line_id] = added.get(line_id, 0) + int(sale["quantity"])
        for line_id, units in added.items():
            first = line_id not in sold
            sold.setdefault(line_id, []).append(
                (None if first else numeric_id(agreement["id"]), units))
    return sold


def _refunds(order: JsonObject, order_id: str) -> list[JsonObject]:
    refunds = order.get("refunds") or []
    return [r for r in refunds if isinstance(r, dict)]


def _refund_returns(refund: JsonObject, order_id: str, reference: str | None,
                    locations: Mapping[str, str]) -> list[InboundMessage]:
    occurred_at = parse_time(refund.get("createdAt"))
    messages: list[InboundMessage] = []
    for line in _nodes(refund, "refundLineItems", f"order {order_id} refund"):
        refund_line_id = numeric_id(line["id"])
        restock_type = str(line.get("restockType", "")).lower()
        if restock_type not in RESTOCKING_TYPES or int(line["quantity"]) <= 0:
            messages.append(Ignored(f"refund line {refund_line_id} does not restock"))
            continue
        item = line.get("lineItem") or {}
        sku = item.get("sku") or ""
        if sku and not is_valid_sku(sku):
            messages.append(Ignored(f"refund line {refund_line_id}: no SKU stocksync holds"))
            continue
        where = line.get("location")
        sale_key = f"{KIND}:{order_id}:{numeric_id(item.get('id'))}"
        messages.append(ChannelReturn(
            sku=sku, quantity=int(line["quantity"]), key=f"{sale_key}:refund:{refund_line_id}",
            location=locations.get(numeric_id(where["id"])) if where else None,
            sale_key=sale_key, occurred_at=occurred_at, reference=reference))
    return messages


def _nodes(parent: JsonObject, field: str, what: str) -> list[JsonObject]:
    connection = parent.get(field) or {}
    if (connection.get("pageInfo") or {}).get("hasNextPage"):
        raise IncompleteOrder(f"{what} has more {field} than one read returns")
    return [n for n in connection.get("nodes") or [] if isinstance(n, dict)]


def _reservation(attributes: object) -> str | None:
    """stocksync_reservation_id among GraphQL [{key, value}] (REST note_attributes and line
    properties, whose webhook form the parser reads as [{name, value}])."""
    for attribute in attributes if isinstance(attributes, list) else []:
        if isinstance(attribute, dict) and attribute.get("key") == RESERVATION_ATTRIBUTE:
            value = attribute.get("value")
            return str(value) if value else None
    return None
