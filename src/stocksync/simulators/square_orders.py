"""Orders of the Square simulator: till sales, API orders, returns, and what they do to
inventory and webhooks, as Square documents it.

- A sale moves each tracked catalog line IN_STOCK -> SOLD when the order is paid in full
  ("automatically updates your inventory when the Order is closed or charged",
  developer.squareup.com/docs/orders-api/how-it-works; "automatic decrease of the inventory
  count when an order is fully paid for", .../app-marketplace/requirements/inventory-api).
  The adjustment's occurred_at is the till's own time, so an offline sale that reaches
  Square later is placed before any count stamped after it
  (developer.squareup.com/docs/inventory-api/how-it-works).
- Offline POS orders keep the till's created_at ("Offline orders have a created_at value
  that reflects the time the order was created, not the time it was subsequently
  transmitted to Square", SearchOrders reference); their updated_at is when Square got them
  (unconfirmed: the docs say nothing of updated_at for offline orders).
- order.created fires only for orders made with CreateOrder ("Creating an order in the Point
  of Sale app will not publish this event"); order.updated only for those orders too (Square
  staff, developer forums t/11162). Till sales and returns notify inventory.count.updated only.
- A return is a return order whose `returns[]` names the sale (source_order_id,
  source_line_item_uid). Refunded units move SOLD -> RETURNED_BY_CUSTOMER; only when the
  seller answers "restock" does Square move them RETURNED_BY_CUSTOMER -> IN_STOCK, in a
  separate adjustment that names neither the order nor the refund (as Square records it:
  developer forums t/15697).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import uuid4

from stocksync.simulators.square_inventory import (
    CountKey,
    format_quantity,
    format_time,
    parse_quantity,
    utc_now,
)
from stocksync.simulators.square_state import JsonObject, SquareSimState, Variation, new_object_id

POS, API = "POS", "API"


class OrderRefused(ValueError):
    """An admin request the simulated seller could not carry out (answered 409)."""


@dataclass(frozen=True, slots=True)
class SaleLine:
    variation: Variation
    quantity: Decimal


def money(amount: int) -> JsonObject:
    return {"amount": amount, "currency": "USD"}


def make_sale(sim: SquareSimState, lines: list[SaleLine], *, location_id: str, source: str,
              occurred_at: datetime | None = None, paid: bool = True) -> JsonObject:
    """A sale: a POS till sale (always paid; `occurred_at` earlier than now = made offline
    and synced now) or an API order (CreateOrder, then paid unless `paid` is false)."""
    now = utc_now()
    made_at = occurred_at or now
    order_id = new_object_id(26)
    total = sum(int(line.variation.price_cents * line.quantity) for line in lines)
    order: JsonObject = {
        "id": order_id, "location_id": location_id,
        "source": {"name": "Point of Sale" if source == POS else "stocksync simulator app"},
        "line_items": [{
            "uid": str(uuid4()).upper() if source == POS else new_object_id(22),
            "name": line.variation.item_name, "variation_name": line.variation.name,
            "quantity": format_quantity(line.quantity), "item_type": "ITEM",
            "catalog_object_id": line.variation.id, "catalog_version": line.variation.version,
            "base_price_money": money(line.variation.price_cents),
            "total_money": money(int(line.variation.price_cents * line.quantity))}
            for line in lines],
        "state": "OPEN", "created_at": format_time(made_at), "updated_at": format_time(now),
        "total_money": money(total), "net_amount_due_money": money(total), "tenders": []}
    if source == API:
        order["version"] = 1  # "Orders not created through the API do not include a version"
    sim.orders[order_id] = order
    if source == API:
        _notify(sim, order, "order.created")
    if paid:
        _pay(sim, order, made_at)
    return order


def pay(sim: SquareSimState, order_id: str) -> JsonObject:
    order = _order(sim, order_id)
    if order["state"] != "OPEN" or order["tenders"]:
        raise OrderRefused(f"order {order_id} is {order['state']} and cannot be paid")
    _pay(sim, order, utc_now())
    return order


def cancel(sim: SquareSimState, order_id: str) -> JsonObject:
    """Cancel an unpaid open order ("Canceled orders are not paid", OrderState): nothing was
    taken from stock, so nothing goes back."""
    order = _order(sim, order_id)
    if order["state"] != "OPEN" or order["tenders"]:
        raise OrderRefused(f"only unpaid open orders can be canceled; {order_id} is "
                           f"{order['state']}{' and paid' if order['tenders'] else ''}")
    now = utc_now()
    order.update(state="CANCELED", closed_at=format_time(now), updated_at=format_time(now))
    _changed(sim, order, "order.updated")
    return order


def make_return(sim: SquareSimState, order_id: str, lines: list[tuple[str, Decimal]],
                restock: bool) -> JsonObject:
    """An itemized return at the till of `lines` [(sale line uid, quantity)] of a completed
    sale: a new return order; restocked only when `restock` (the POS asks)."""
    sale = _order(sim, order_id)
    if sale["state"] != "COMPLETED":
        raise OrderRefused(f"order {order_id} is {sale['state']}: nothing to return")
    by_uid = {line["uid"]: line for line in sale["line_items"]}
    now = utc_now()
    return_id = new_object_id(26)
    returned: list[JsonObject] = []
    for uid, quantity in lines:
        line = by_uid.get(uid)
        if line is None:
            raise OrderRefused(f"order {order_id} has no line item {uid!r}")
        left = (parse_quantity(line["quantity"]) or Decimal(0)) - _returned(sim, order_id, uid)
        if not 0 < quantity <= left:
            raise OrderRefused(f"line {uid} has {format_quantity(left)} left to return")
        returned.append({"uid": str(uuid4()).upper(), "source_line_item_uid": uid,
                         "name": line["name"], "quantity": format_quantity(quantity),
                         "item_type": "ITEM", "catalog_object_id": line["catalog_object_id"],
                         "variation_name": line["variation_name"]})
    refund = sum(int(Decimal(_cents(by_uid[r["source_line_item_uid"]]))
                     * Decimal(r["quantity"])) for r in returned)
    order: JsonObject = {
        "id": return_id, "location_id": sale["location_id"],
        "source": {"name": "Point of Sale"}, "line_items": [],
        "returns": [{"uid": new_object_id(22), "source_order_id": order_id,
                     "return_line_items": returned}],
        "refunds": [{"id": new_object_id(26), "location_id": sale["location_id"],
                     "amount_money": money(refund), "status": "COMPLETED",
                     "reason": "Returned goods"}],
        "state": "COMPLETED", "created_at": format_time(now), "updated_at": format_time(now),
        "closed_at": format_time(now), "total_money": money(0),
        "net_amount_due_money": money(0), "tenders": []}
    sim.orders[return_id] = order
    changed: list[CountKey] = []
    for item in returned:
        variation = sim.variations.get(item["catalog_object_id"])
        if variation is None or not variation.track_inventory:
            continue
        quantity = Decimal(item["quantity"])
        changed += sim.inventory.adjustment(variation.id, sale["location_id"], "SOLD",
                                            "RETURNED_BY_CUSTOMER", quantity, now,
                                            transaction_id=return_id)
        if restock:  # its own adjustment, with no link to the return (see module doc)
            changed += sim.inventory.adjustment(variation.id, sale["location_id"],
                                                "RETURNED_BY_CUSTOMER", "IN_STOCK",
                                                quantity, now)
    sim.counts_changed(changed)
    return order


# -- internals -----------------------------------------------------------------------------
def _pay(sim: SquareSimState, order: JsonObject, paid_at: datetime) -> None:
    """Paid in full: a tender, nothing due, COMPLETED, and stock moves to SOLD as of the
    moment of the sale (the till's clock for an offline sale)."""
    order["tenders"] = [{"id": new_object_id(26), "location_id": order["location_id"],
                         "type": "CARD", "amount_money": order["total_money"],
                         "created_at": format_time(paid_at)}]
    order["net_amount_due_money"] = money(0)
    order["state"] = "COMPLETED"
    order["closed_at"] = format_time(paid_at)
    order["updated_at"] = format_time(utc_now())
    changed: list[CountKey] = []
    for line in order["line_items"]:
        variation = sim.variations.get(str(line.get("catalog_object_id")))
        if variation is None or not variation.track_inventory:
            continue  # Square decrements tracked catalog variations only
        changed += sim.inventory.adjustment(
            variation.id, order["location_id"], "IN_STOCK", "SOLD",
            parse_quantity(line["quantity"]) or Decimal(0), paid_at,
            transaction_id=order["id"])
    if "version" in order:
        _changed(sim, order, "order.updated")
    sim.counts_changed(changed)


def _changed(sim: SquareSimState, order: JsonObject, event_type: str) -> None:
    if "version" in order:
        order["version"] = int(order["version"]) + 1
        _notify(sim, order, event_type)


def _notify(sim: SquareSimState, order: JsonObject, event_type: str) -> None:
    """order.created / order.updated: ids and state only, never the lines."""
    if "version" not in order or sim.event_sink is None:
        return  # POS orders publish no order events
    member = "order_created" if event_type == "order.created" else "order_updated"
    summary: JsonObject = {"created_at": order["created_at"],
                           "location_id": order["location_id"], "order_id": order["id"],
                           "state": order["state"], "version": order["version"]}
    if member == "order_updated":
        summary["updated_at"] = order["updated_at"]
    sim.event_sink(event_type, {"type": member, "id": order["id"],
                                "object": {member: summary}})


def _order(sim: SquareSimState, order_id: str) -> JsonObject:
    order = sim.orders.get(order_id)
    if order is None:
        raise KeyError(f"unknown order {order_id!r}")
    return order


def _returned(sim: SquareSimState, order_id: str, uid: str) -> Decimal:
    total = Decimal(0)
    for order in sim.orders.values():
        for ret in order.get("returns") or []:
            if ret.get("source_order_id") == order_id:
                total += sum((Decimal(item["quantity"]) for item in ret["return_line_items"]
                              if item["source_line_item_uid"] == uid), Decimal(0))
    return total


def _cents(line: JsonObject) -> int:
    return int(line["base_price_money"]["amount"])
