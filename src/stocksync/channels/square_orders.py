"""Square orders -> stocksync inbound messages (pure: no I/O).

Which orders moved stock at Square (the Order/OrderState schemas of Square's OpenAPI
document, and the guides cited):
- Square takes a sale from IN_STOCK only for an itemized line (item_type ITEM) that names a
  catalog variation with inventory tracking, and only once the order is paid in full: "It
  also automatically updates your inventory when the Order is closed or charged"
  (developer.squareup.com/docs/orders-api/how-it-works); "the automatic decrease of the
  inventory count when an order is fully paid for"
  (developer.squareup.com/docs/app-marketplace/requirements/inventory-api). So: COMPLETED
  ("Completed orders are fully paid"), or OPEN with a tender and nothing left due (a paid
  pickup or shipment not yet fulfilled). DRAFT, unpaid OPEN and CANCELED ("Canceled orders
  are not paid") moved nothing.
- A return is its own order whose `returns[]` names the sale (source_order_id and each
  line's source_line_item_uid; developer.squareup.com/docs/orders-api/order-returns-exchanges).
  The refund alone moves units SOLD -> RETURNED_BY_CUSTOMER, which is not sellable stock.
  Only when the seller answers the till's "restock?" does Square move them
  RETURNED_BY_CUSTOMER -> IN_STOCK, in a separate inventory adjustment that names neither the
  return order nor the refund (as Square records it: developer forums t/15697). So the
  connector reads those adjustments (BatchRetrieveInventoryChanges) and credits a return
  line only with restocks of the same variation at the location made around the return
  (RESTOCK_BEFORE..RESTOCK_AFTER of its created_at); no restock found, no ChannelReturn.

Keys: a sale is "square:<order id>:<line uid>" whichever way the order was read; a return is
that sale key + ":return:<return line uid>" with sale_key set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, InboundMessage

JsonObject = dict[str, Any]
KIND = "square"
RESTOCK_BEFORE = timedelta(seconds=5)  # clock skew between the refund and its restock
RESTOCK_AFTER = timedelta(minutes=15)  # the restock step of the same return at the till


def sale_key(order_id: str, line_uid: str) -> str:
    return f"{KIND}:{order_id}:{line_uid}"


def parse_time(value: object) -> datetime | None:
    """RFC 3339 (Square sends up to nanoseconds; Python keeps microseconds)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def is_paid_sale(order: JsonObject) -> bool:
    """Whether Square has taken this order's tracked lines out of IN_STOCK."""
    state = order.get("state")
    if state == "COMPLETED":
        return True
    due = (order.get("net_amount_due_money") or {}).get("amount")
    return state == "OPEN" and bool(order.get("tenders")) and due == 0


@dataclass(slots=True)
class Restocks:
    """RETURNED_BY_CUSTOMER -> IN_STOCK adjustments per variation, oldest first; each unit
    is credited to at most one return line."""

    by_variation: dict[str, list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, changes: Iterable[object]) -> Restocks:
        restocks = cls()
        for change in changes:
            data = change.get("adjustment") if isinstance(change, dict) else None
            if (not isinstance(data, dict) or data.get("from_state") != "RETURNED_BY_CUSTOMER"
                    or data.get("to_state") != "IN_STOCK"):
                continue
            moment, units = parse_time(data.get("occurred_at")), _whole(data.get("quantity"))
            if moment is not None and units:
                restocks.by_variation.setdefault(str(data.get("catalog_object_id")), []).append(
                    [moment, units])
        for rows in restocks.by_variation.values():
            rows.sort(key=lambda row: row[0])
        return restocks

    def claim(self, variation: str, returned_at: datetime, wanted: int
              ) -> tuple[int, datetime | None]:
        """Up to `wanted` restocked units of `variation` near `returned_at`, and the time of
        the last restock used (the newest change at Square this return stands for)."""
        got, last = 0, None
        for row in self.by_variation.get(variation, []):
            moment, left = row
            if got == wanted or moment > returned_at + RESTOCK_AFTER:
                break
            if moment < returned_at - RESTOCK_BEFORE or not left:
                continue
            take = min(left, wanted - got)
            row[1], got, last = left - take, got + take, moment
        return got, last


def order_messages(order: JsonObject, *, location_id: str, sku_of: Mapping[str, str],
                   untracked: set[str], restocks: Restocks) -> list[InboundMessage]:
    """The sales and restocked returns of one order at the channel's location."""
    order_id = str(order.get("id") or "")
    if not order_id:
        return [Ignored("Square sent an order without an id")]
    if order.get("location_id") != location_id:
        return [Ignored(f"order {order_id} is at location {order.get('location_id')!r}")]
    messages: list[InboundMessage] = []
    lines = order.get("line_items") or []
    if lines and is_paid_sale(order):
        sold_at = parse_time(order.get("closed_at")) or parse_time(order.get("updated_at"))
        for line in lines:
            messages.append(_sale(order_id, line, sold_at, sku_of, untracked))
    elif lines:
        messages.append(Ignored(f"order {order_id} is {order.get('state')} and not paid in "
                                "full: Square moved no stock"))
    created = parse_time(order.get("created_at"))
    for ret in order.get("returns") or []:
        source = ret.get("source_order_id") if isinstance(ret, dict) else None
        if not source:
            messages.append(Ignored(f"order {order_id} has an unlinked return"))
            continue
        for item in ret.get("return_line_items") or []:
            messages.append(_return(order_id, str(source), item, created, sku_of, untracked,
                                    restocks))
    return messages or [Ignored(f"order {order_id} has no line items or returns")]


def _line_sku(line: object, sku_of: Mapping[str, str], untracked: set[str]
              ) -> tuple[str, str, int] | str:
    """(variation, sku, whole quantity) of a line Square tracks, else why it is skipped."""
    if not isinstance(line, dict) or not line.get("uid"):
        return "a line without a uid"
    uid = line["uid"]
    if line.get("item_type", "ITEM") != "ITEM":
        return f"line {uid} is a {line.get('item_type')}, not an itemized sale"
    variation = line.get("catalog_object_id")
    if not variation:
        return f"line {uid} is an ad hoc item (no catalog variation)"
    sku = sku_of.get(str(variation))
    if sku is None:
        return f"line {uid}: variation {variation} is not mapped to a stocksync SKU"
    if variation in untracked:
        return f"line {uid}: Square does not track inventory of variation {variation}"
    units = _whole(line.get("quantity"))
    if units is None:
        return f"line {uid}: quantity {line.get('quantity')!r} is not a whole number of units"
    return str(variation), sku, units


def _sale(order_id: str, line: object, sold_at: datetime | None, sku_of: Mapping[str, str],
          untracked: set[str]) -> InboundMessage:
    found = _line_sku(line, sku_of, untracked)
    if isinstance(found, str):
        return Ignored(f"order {order_id} {found}")
    assert isinstance(line, dict)
    _, sku, units = found
    return ChannelSale(sku=sku, quantity=units, key=sale_key(order_id, str(line["uid"])),
                       occurred_at=sold_at, reference=order_id)


def _return(order_id: str, source: str, item: object, returned_at: datetime | None,
            sku_of: Mapping[str, str], untracked: set[str], restocks: Restocks
            ) -> InboundMessage:
    found = _line_sku(item, sku_of, untracked)
    if isinstance(found, str):
        return Ignored(f"return order {order_id} {found}")
    assert isinstance(item, dict)
    variation, sku, units = found
    source_uid = item.get("source_line_item_uid")
    if not source_uid or returned_at is None:
        return Ignored(f"return order {order_id} line {item['uid']} names no sale line")
    restocked, at = restocks.claim(variation, returned_at, units)
    if not restocked:
        return Ignored(f"return order {order_id} line {item['uid']}: Square did not restock")
    sold = sale_key(source, str(source_uid))
    return ChannelReturn(sku=sku, quantity=restocked, key=f"{sold}:return:{item['uid']}",
                         sale_key=sold, occurred_at=at, reference=order_id)


def _whole(quantity: object) -> int | None:
    try:
        number = Decimal(str(quantity))
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0 or number != number.to_integral_value():
        return None
    return int(number)


# -- the poll cursor -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PollCursor:
    """Where polling stands: orders updated at or after `since` are still to be read;
    `page` is Square's cursor inside that search and `seen` the newest updated_at on the
    pages read so far."""

    since: datetime
    page: str | None = None
    seen: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> PollCursor:
        """The channel's creation time (ISO-8601, the first cursor) or one we returned."""
        if text.startswith("{"):
            try:
                data = json.loads(text)
                since = parse_time(data["since"])
                seen = parse_time(data.get("seen"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"not a Square order cursor: {text[:80]!r}") from exc
            if since is None:
                raise ValueError(f"not a Square order cursor: {text[:80]!r}")
            return cls(since, data.get("page"), seen)
        since = parse_time(text) or parse_time(f"{text}Z")  # a naive time is UTC
        if since is None:
            raise ValueError(f"the first cursor must be an ISO-8601 UTC time, got {text!r}")
        return cls(since)

    def dump(self) -> str:
        return json.dumps({"since": format_time(self.since), "page": self.page,
                           "seen": format_time(self.seen) if self.seen else None})
