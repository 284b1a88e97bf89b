"""A WooCommerce order (REST v3 representation) -> the sales and returns it means for stock,
exactly as core WooCommerce moves stock. Pure: the webhook parser, the order poll and the
order fetch all read orders through `order_messages`, so an order seen any way counts once.

Core's rules (woocommerce/woocommerce `includes/wc-stock-functions.php`,
`includes/wc-order-functions.php`):

- `wc_maybe_reduce_stock_levels` runs when an order reaches processing, completed or
  on-hold (or payment completes) and the order's `_order_stock_reduced` flag is not set:
  each line not yet reduced loses its quantity and gets the line meta `_reduced_stock`.
- `wc_maybe_increase_stock_levels` runs when an order moves to cancelled **or pending**
  and the flag is set: each line gives back its `_reduced_stock` and the meta is deleted.
- Moving to refunded restocks nothing (`wc_order_fully_refunded` creates a refund without
  `restock_items`). A refund restocks only when asked (`restock_items`, REST `api_restock`,
  the admin's "Restock refunded items"): `wc_restock_refunded_items` gives back each
  refunded line's quantity, lowers that line's `_reduced_stock` and adds to its
  `_restock_refunded_items`.

Whether a refund restocked is stored nowhere on the refund (`GET /orders/<id>/refunds`
shows refunded quantities only), but the order's own lines carry the result: both metas
are plain line meta, listed in `line_items[].meta_data` of every order representation
(webhook payloads included). So per line: while `_reduced_stock` is there, WooCommerce
still holds that many units out and `quantity - _reduced_stock` came back by refunds;
once it is gone from a cancelled/pending order, everything came back.

Keys. The sale is "woocommerce:<order>:<line>". What came back is counted in units of
that sale, "woocommerce:<order>:<line>:returned:<n>" = unit n is back, so the keys of a
later, larger count include the earlier ones and no unit is returned twice, however often
or in whatever order the order is read. Lines over MAX_RETURN_KEYS units are counted in
equal blocks (a block is returned once all its units are; never more than came back).
Returns carry `sale_key`, so a pending/cancelled order that never reduced stock (its sale
was never counted) gives nothing back.

Limit (needs state, see the channel notes): WooCommerce can reduce the same line again
after giving it back (pending -> processing -> cancelled -> processing). Nothing in the
order says which reduction a later cancel undoes (the cancel deletes `_reduced_stock`,
the only per-reduction id), so the keys above count the first reduction and its return
only; a second reduction is not counted (never double counted either).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    MalformedWebhook,
)
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.fields import bounded_int, numeric_id

Json = dict[str, Any]

# wc_maybe_reduce_stock_levels: woocommerce_order_status_{processing,completed,on-hold}.
SALE_STATUSES = frozenset({"processing", "completed", "on-hold"})
# wc_maybe_increase_stock_levels: woocommerce_order_status_{cancelled,pending}.
RESTORE_STATUSES = frozenset({"cancelled", "pending"})
REDUCED_STOCK = "_reduced_stock"
RESTOCKED_BY_REFUNDS = "_restock_refunded_items"
MAX_RETURN_KEYS = 100  # return messages per line at most (one per unit up to this size)
MAX_QUANTITY = 1_000_000_000


def order_messages(order: Json) -> list[InboundMessage]:
    """The sales and returns of one order, by its status and its lines' stock meta."""
    order_id = numeric_id(order.get("id"), "id")
    status = order.get("status")
    if not isinstance(status, str):
        raise MalformedWebhook("status must be a string", field="status")
    reference = order.get("number")
    if reference is not None and not isinstance(reference, str):
        raise MalformedWebhook("number must be a string", field="number")
    selling = status in SALE_STATUSES
    sold_at = gmt(order, "date_created_gmt")
    changed_at = gmt(order, "date_modified_gmt")
    lines = order.get("line_items")
    if not isinstance(lines, list):
        raise MalformedWebhook("line_items must be a list", field="line_items")
    messages: list[InboundMessage] = []
    for i, line in enumerate(lines):
        where = f"line_items[{i}]"
        if not isinstance(line, dict):
            raise MalformedWebhook(f"{where} must be an object", field=where)
        line_id = numeric_id(line.get("id"), f"{where}.id")
        quantity = bounded_int(line.get("quantity"), f"{where}.quantity", low=0)
        sku = line.get("sku")
        if sku is not None and not isinstance(sku, str):
            raise MalformedWebhook(f"{where}.sku must be a string or null", field=f"{where}.sku")
        if not sku or not is_valid_sku(sku) or quantity == 0:
            messages.append(_skipped(where, sku))
            continue
        returned = returned_units(status, line, quantity, where)
        sale_key = f"woocommerce:{order_id}:{line_id}"
        if selling:
            messages.append(ChannelSale(sku=sku, quantity=quantity, key=sale_key,
                                        occurred_at=sold_at, reference=reference))
        messages += [ChannelReturn(sku=sku, quantity=units, key=f"{sale_key}:returned:{last}",
                                   sale_key=sale_key, occurred_at=changed_at,
                                   reference=reference)
                     for last, units in return_blocks(quantity, returned)]
    if not selling and not any(isinstance(m, ChannelReturn) for m in messages):
        return [Ignored(f"order status {status!r} gives no stock back")]
    return messages


def returned_units(status: str, line: Json, quantity: int, where: str) -> int:
    """How many of the line's units WooCommerce has put back into its stock."""
    reduced = meta_int(line, REDUCED_STOCK, where)
    if reduced is not None:
        # Still reduced: what refunds restocked was taken off _reduced_stock. A cancelled
        # order keeping the meta was not restored (woocommerce_can_restore_order_stock).
        return min(max(quantity - reduced, 0), quantity)
    if status in RESTORE_STATUSES:
        # wc_increase_stock_levels gave back everything still out and deleted the meta. If
        # the order never reduced stock, its sale was never counted: the ingestor drops
        # returns whose sale it has not applied.
        return quantity
    # Not reduced now and not restored by status (refunded, failed, or a product whose
    # stock WooCommerce does not manage): only what refunds restocked is known to be back.
    return min(meta_int(line, RESTOCKED_BY_REFUNDS, where) or 0, quantity)


def return_blocks(quantity: int, returned: int) -> list[tuple[int, int]]:
    """(last unit, units) of each block of the line's units that is back: blocks of one
    unit up to MAX_RETURN_KEYS units, else MAX_RETURN_KEYS equal blocks."""
    size = -(-quantity // MAX_RETURN_KEYS)  # ceil
    blocks: list[tuple[int, int]] = []
    last = 0
    while last < quantity:
        end = min(last + size, quantity)
        if end > returned:
            break
        blocks.append((end, end - last))
        last = end
    return blocks


def meta_int(line: Json, key: str, where: str) -> int | None:
    """The integer value of line meta `key` (WooCommerce stores meta as strings), or None
    when the line has no such meta."""
    meta = line.get("meta_data")
    if meta is None:
        return None
    if not isinstance(meta, list):
        raise MalformedWebhook(f"{where}.meta_data must be a list", field=f"{where}.meta_data")
    values = [m.get("value") for m in meta if isinstance(m, dict) and m.get("key") == key]
    if not values:
        return None
    value, field = values[-1], f"{where}.meta_data.{key}"
    if isinstance(value, str):
        try:
            number = float(value.strip()) if value.strip() else 0.0
        except ValueError:
            raise MalformedWebhook(f"{field} must be a number", field=field) from None
        value = int(number) if number.is_integer() else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return bounded_int(value, field, low=-MAX_QUANTITY)


def gmt(payload: Json, name: str) -> datetime | None:
    """WooCommerce's *_gmt fields are UTC without an offset ("2024-05-01T10:00:00")."""
    value = payload.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise MalformedWebhook(f"{name} must be an ISO-8601 date-time", field=name)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _skipped(where: str, sku: str | None) -> Ignored:
    if not sku:
        return Ignored(f"{where} has no sku")
    if not is_valid_sku(sku):
        return Ignored(f"{where}.sku {sku!r} is not a valid stocksync SKU")
    return Ignored(f"{where} has quantity 0")



