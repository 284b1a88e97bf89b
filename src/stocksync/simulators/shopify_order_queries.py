"""Order reads in the simulator: `order(id:)` and `orders(first:, after:, query:, sortKey:)`
of the Admin GraphQL API, answering a fixed superset of the fields stocksync selects:

    Order { id name createdAt updatedAt cancelledAt edited retailLocation { id }
            customAttributes { key value }
            lineItems(first:) { nodes { id sku quantity currentQuantity
                                        customAttributes { key value } } pageInfo }
            refunds(first:) { id createdAt refundLineItems(first:) { nodes { id quantity
                              restockType location { id } lineItem { id sku } } pageInfo } }
            agreements(first:, after:) { nodes { __typename id happenedAt reason
                              sales(first:) { nodes { actionType quantity
                                              ... on ProductSale { lineItem { id sku } } }
                                              pageInfo } } pageInfo } }

`retailLocation` is set for POS orders only ("The physical location where a retail order is
created or completed"). `restockType` is the RefundLineItemRestockType enum (CANCEL, RETURN,
NO_RESTOCK, LEGACY_RESTOCK). `orders` honours `updated_at:>'<ISO>'` / `>=` / `<` / `<=`
terms of Shopify's search syntax (other terms are ignored) and sortKey UPDATED_AT or ID
(the default).

Cost (shopify.md §4: objects 1, connections 2 + first x node cost, lists first x node):
an Order 1, retailLocation 1, lineItems 2 + first, refunds first x (1 + refundLineItems
2 + first x 3), agreements 2 + first x (1 + sales 2 + first x 2); `orders` 2 + first x that.
Attribute lists are counted as scalars (their cost is not published). The actual cost counts
what was returned.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING

from stocksync.simulators.shopify_operation import (
    MISSING,
    Executed,
    GraphQLFailure,
    Operation,
    argument,
)
from stocksync.simulators.shopify_state import JsonObject, ShopifySimState, gid, parse_gid

if TYPE_CHECKING:
    from stocksync.simulators.shopify_orders import SimOrder

MAX_PAGE_SIZE = 250
_UPDATED_TERM = re.compile(r"\bupdated_at:(>=|<=|>|<)?'?([0-9T:.+\-Z]+)'?")
_AGREEMENT_TYPES = {"ORDER": "OrderAgreement", "ORDER_EDIT": "OrderEditAgreement",
                    "REFUND": "RefundAgreement", "RETURN": "ReturnAgreement"}


def _first(op: Operation, field_name: str) -> int | None:
    """`first:` of a selected connection or list, or None when the field is not selected."""
    if not re.search(rf"\b{field_name}\s*\(", op.query):
        return None
    first = argument(op, field_name, "first")
    if not isinstance(first, int) or not 0 < first <= MAX_PAGE_SIZE:
        raise GraphQLFailure(f"{field_name}(first:) must be 1..{MAX_PAGE_SIZE}", "BAD_REQUEST")
    return first


def _limits(op: Operation) -> dict[str, int | None]:
    return {name: _first(op, name) for name in
            ("lineItems", "refunds", "refundLineItems", "agreements", "sales")}


def _order_cost(op: Operation, limits: dict[str, int | None]) -> int:
    cost = 1 + bool(re.search(r"\bretailLocation\s*\{", op.query))
    if limits["lineItems"]:
        cost += 2 + limits["lineItems"]
    if limits["refunds"]:
        per_refund = 1 + (2 + 3 * limits["refundLineItems"] if limits["refundLineItems"] else 0)
        cost += limits["refunds"] * per_refund
    if limits["agreements"]:
        per_agreement = 1 + (2 + 2 * limits["sales"] if limits["sales"] else 0)
        cost += 2 + limits["agreements"] * per_agreement
    return cost


# -- order(id:) --------------------------------------------------------------------------
def cost_order(op: Operation) -> int:
    return _order_cost(op, _limits(op))


def run_order(state: ShopifySimState, op: Operation) -> Executed:
    order_id = parse_gid(argument(op, "order", "id"), "Order")
    order = state.orders.orders.get(order_id or 0)
    if order is None:
        return Executed(None, 1)
    node, cost = render_order(order, op, _limits(op))
    return Executed(node, cost)


# -- orders(first:, after:, query:, sortKey:) ----------------------------------------------
def cost_orders(op: Operation) -> int:
    first = _first(op, "orders") or 0
    return 2 + first * _order_cost(op, _limits(op))


def run_orders(state: ShopifySimState, op: Operation) -> Executed:
    first = _first(op, "orders") or 0
    after = argument(op, "orders", "after")
    search = argument(op, "orders", "query")
    sort_key = argument(op, "orders", "sortKey")
    if sort_key is MISSING:
        match = re.search(r"\bsortKey\s*:\s*(\w+)", op.query)
        sort_key = match[1] if match else "ID"
    matching = [o for o in state.orders.orders.values()
                if _matches(o, search if isinstance(search, str) else "")]
    if sort_key == "UPDATED_AT":
        matching.sort(key=lambda o: (_time(o.payload["updated_at"]), o.payload["id"]))
    else:
        matching.sort(key=lambda o: o.payload["id"])
    start = int(json.loads(base64.b64decode(after))["offset"]) if isinstance(after, str) else 0
    page = matching[start:start + first]
    limits = _limits(op)
    nodes, cost = [], 2
    for order in page:
        node, node_cost = render_order(order, op, limits)
        nodes.append(node)
        cost += node_cost
    end = start + len(page)
    data = {"nodes": nodes, "pageInfo": {
        "hasNextPage": end < len(matching), "hasPreviousPage": start > 0,
        "endCursor": _cursor(end) if page else None,
        "startCursor": _cursor(start + 1) if page else None}}
    return Executed(data, cost)


def _matches(order: SimOrder, search: str) -> bool:
    updated = _time(order.payload["updated_at"])
    for operator, value in _UPDATED_TERM.findall(search):
        bound = _time(value)
        ok = {">": updated > bound, ">=": updated >= bound, "<": updated < bound,
              "<=": updated <= bound, "": updated == bound}[operator]
        if not ok:
            return False
    return True


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


# -- rendering -----------------------------------------------------------------------------
def render_order(order: SimOrder, op: Operation, limits: dict[str, int | None]
                 ) -> tuple[JsonObject, int]:
    """The Order as GraphQL shows it, and the actual cost of what was returned."""
    payload = order.payload
    location = payload.get("location_id")
    node: JsonObject = {
        "id": gid("Order", payload["id"]), "legacyResourceId": str(payload["id"]),
        "name": payload["name"], "createdAt": payload["created_at"],
        "updatedAt": payload["updated_at"], "cancelledAt": payload["cancelled_at"],
        "edited": order.edited,
        "retailLocation": None if location is None else {"id": gid("Location", location)},
        "customAttributes": _attributes(payload.get("note_attributes"))}
    cost = 1 + (location is not None)
    if limits["lineItems"]:
        lines = payload["line_items"]
        shown = lines[:limits["lineItems"]]
        node["lineItems"] = {"nodes": [_line(order, line) for line in shown],
                             "pageInfo": {"hasNextPage": len(lines) > len(shown)}}
        cost += 2 + len(shown)
    if limits["refunds"]:
        refunds = payload.get("refunds") or []
        node["refunds"] = [_refund(refund, limits["refundLineItems"])
                           for refund in refunds[:limits["refunds"]]]
        for refund in node["refunds"]:
            cost += 1 + 2 + 3 * len((refund.get("refundLineItems") or {}).get("nodes", []))
    if limits["agreements"]:
        node["agreements"], agreement_cost = _agreements(order, op, limits)
        cost += agreement_cost
    return node, cost


def _line(order: SimOrder, line: JsonObject) -> JsonObject:
    return {"id": gid("LineItem", line["id"]), "sku": line["sku"],
            "quantity": line["quantity"], "currentQuantity": order.remaining[line["id"]],
            "name": line["title"], "customAttributes": _attributes(line.get("properties"))}


def _refund(refund: JsonObject, first: int | None) -> JsonObject:
    node: JsonObject = {"id": gid("Refund", refund["id"]), "createdAt": refund["created_at"]}
    if first:
        lines = refund["refund_line_items"]
        node["refundLineItems"] = {"nodes": [{
            "id": gid("RefundLineItem", line["id"]), "quantity": line["quantity"],
            "restockType": line["restock_type"].upper(),
            "restocked": line["restock_type"] != "no_restock",
            "location": (None if line["location_id"] is None
                         else {"id": gid("Location", line["location_id"])}),
            "lineItem": {"id": gid("LineItem", line["line_item_id"]),
                         "sku": line["line_item"]["sku"]},
        } for line in lines[:first]], "pageInfo": {"hasNextPage": len(lines) > first}}
    return node


def _agreements(order: SimOrder, op: Operation, limits: dict[str, int | None]
                ) -> tuple[JsonObject, int]:
    first = limits["agreements"] or 0
    after = argument(op, "agreements", "after")
    start = int(json.loads(base64.b64decode(after))["offset"]) if isinstance(after, str) else 0
    page = order.agreements[start:start + first]
    skus = {line["id"]: line["sku"] for line in order.payload["line_items"]}
    nodes, cost = [], 2
    for agreement in page:
        node: JsonObject = {"__typename": _AGREEMENT_TYPES[agreement["reason"]],
                            "id": gid(_AGREEMENT_TYPES[agreement["reason"]], agreement["id"]),
                            "happenedAt": agreement["happened_at"],
                            "reason": agreement["reason"]}
        cost += 1
        if limits["sales"]:
            sales = agreement["sales"][:limits["sales"]]
            node["sales"] = {"nodes": [{
                "__typename": "ProductSale", "actionType": sale["action"],
                "quantity": sale["quantity"],
                "lineItem": {"id": gid("LineItem", sale["line_id"]),
                             "sku": skus.get(sale["line_id"])},
            } for sale in sales], "pageInfo": {
                "hasNextPage": len(agreement["sales"]) > len(sales)}}
            cost += 2 + 2 * len(sales)
        nodes.append(node)
    end = start + len(page)
    return {"nodes": nodes, "pageInfo": {"hasNextPage": end < len(order.agreements),
                                         "endCursor": _cursor(end) if page else None}}, cost


def _attributes(pairs: object) -> list[JsonObject]:
    """REST [{name, value}] (note_attributes, line properties) -> GraphQL [{key, value}]."""
    if not isinstance(pairs, list):
        return []
    return [{"key": p.get("name"), "value": p.get("value")} for p in pairs if isinstance(p, dict)]
