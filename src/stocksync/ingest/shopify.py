"""Shopify webhooks (channels/shopify.md §6): orders, cancellations, refunds, order edits,
inventory levels.

Signature: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(app client secret, raw body)), §6.3.
Dedupe id: X-Shopify-Webhook-Id, which every retry of one delivery reuses (§6.2, §6.4).
Retries carry the payload from trigger time and ordering is not guaranteed, so an
inventory_levels/update is only a hint (LevelReport), checked against Shopify itself.

Stock comes back only where Shopify itself restocks: a refund line whose `restock_type` is
`cancel` (unfulfilled units), `return` (fulfilled units) or the deprecated `legacy_restock`;
`no_restock` leaves inventory alone (GraphQL enum RefundLineItemRestockType,
https://shopify.dev/docs/api/admin-graphql/latest/enums/RefundLineItemRestockType). A
cancellation restocks through the refund it records, so orders/cancelled and refunds/create
carry the same refund lines and both key a return by the refund line item id: it counts once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from stocksync.core.channel_rules import location_legs
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    LevelReport,
    MalformedWebhook,
    OrderNotice,
    ParsedDelivery,
)
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.fields import bounded_int, load_object, numeric_id, optional_time

HMAC_HEADER = "x-shopify-hmac-sha256"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
RESERVATION_ATTRIBUTE = "stocksync_reservation_id"  # set by our storefront integration
INVENTORY_ITEM_GID = "gid://shopify/InventoryItem/{}"
MAX_HEADER_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
MAX_QUANTITY = 1_000_000_000
# RefundLineItemRestockType values after which Shopify has put the units back on sale.
RESTOCKING_TYPES = frozenset({"cancel", "return", "legacy_restock"})
Json = dict[str, object]


def shopify_hmac(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify sends for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyWebhookParser:
    """Shopify deliveries -> ChannelSale per order line, ChannelReturn per restocking refund
    line, LevelReport per level.

    Settings: `location.<shopify location id>` = stocksync location code for orders placed
    (and refund lines restocked) at that Shopify location; without it, a mapped store
    location (`location_map.<id>`) gives the first location of its group, as polled orders
    do (channels.registry.location_map); otherwise, and for online orders (`location_id`
    null), the location is left to the ingestor.
    """

    kind: ClassVar[str] = "shopify"
    secret_field: ClassVar[str] = "webhook_secret"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = headers.get(HMAC_HEADER, "").strip()
        if not secret or not given:
            return False
        return hmac.compare_digest(shopify_hmac(secret, body).encode(),
                                   given.encode("utf-8", "replace"))

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        delivery_id = _header(headers, WEBHOOK_ID_HEADER)
        topic = _header(headers, TOPIC_HEADER)
        if topic == "orders/create":
            messages = order_sales(_load(body), settings)
        elif topic == "orders/cancelled":
            messages = cancellation_returns(_load(body), settings)
        elif topic == "refunds/create":
            messages = refund_returns(_load(body), settings)
        elif topic == "orders/edited":
            messages = edit_messages(_load(body))
        elif topic == "inventory_levels/update":
            messages = [level_report(_load(body))]
        elif topic == "products/update":
            messages = [Ignored("content sync is not handled by ingestion")]
        else:
            messages = [Ignored(f"topic {topic!r} is not handled")]
        return ParsedDelivery(delivery_id, topic, messages)


def order_sales(order: Json, settings: Mapping[str, str]) -> list[InboundMessage]:
    """orders/create: one ChannelSale per line with a SKU, keyed shopify:<order>:<line>."""
    order_id, reference, location = _order_fields(order, settings)
    occurred_at = _optional_time(order.get("created_at"), "created_at")
    order_reservation = _reservation(order.get("note_attributes"), "note_attributes")
    messages: list[InboundMessage] = []
    for where, line in _lines(order):
        line_id, sku, quantity = _line_fields(line, where)
        if sku is None or quantity == 0:
            messages.append(_skipped(where, line))
            continue
        reservation = (_reservation(line.get("properties"), f"{where}.properties")
                       or order_reservation)
        messages.append(ChannelSale(
            sku=sku, quantity=quantity, key=f"shopify:{order_id}:{line_id}",
            location=location, reservation_id=reservation, occurred_at=occurred_at,
            reference=reference))
    return messages


def cancellation_returns(order: Json, settings: Mapping[str, str]) -> list[InboundMessage]:
    """orders/cancelled: a return per restocking line of the refunds the cancellation
    recorded. The merchant chooses whether to restock; without a restocking refund line the
    cancellation leaves Shopify's stock alone, and so does stocksync."""
    order_id, reference, _ = _order_fields(order, settings)
    refunds = order.get("refunds")
    if refunds is None:
        refunds = []
    if not isinstance(refunds, list):
        raise MalformedWebhook("refunds must be a list", field="refunds")
    fallback = (_optional_time(order.get("cancelled_at"), "cancelled_at")
                or _optional_time(order.get("updated_at"), "updated_at"))
    messages: list[InboundMessage] = []
    for i, refund in enumerate(refunds):
        if not isinstance(refund, dict):
            raise MalformedWebhook(f"refunds[{i}] must be an object", field=f"refunds[{i}]")
        messages += _refund_lines(refund, order_id, reference, settings, f"refunds[{i}].",
                                  fallback)
    return messages or [Ignored("the cancellation restocked nothing (no refund line restocks)")]


def refund_returns(refund: Json, settings: Mapping[str, str]) -> list[InboundMessage]:
    """refunds/create (REST Refund): a return per refund line that Shopify restocked."""
    order_id = numeric_id(refund.get("order_id"), "order_id")
    messages = _refund_lines(refund, order_id, None, settings, "", None)
    return messages or [Ignored("the refund has no line items")]


def _refund_lines(refund: Json, order_id: int, reference: str | None,
                  settings: Mapping[str, str], prefix: str,
                  fallback: datetime | None) -> list[InboundMessage]:
    occurred_at = (_optional_time(refund.get("processed_at"), f"{prefix}processed_at")
                   or _optional_time(refund.get("created_at"), f"{prefix}created_at")
                   or fallback)
    lines = refund.get("refund_line_items")
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise MalformedWebhook(f"{prefix}refund_line_items must be a list",
                               field=f"{prefix}refund_line_items")
    messages: list[InboundMessage] = []
    for i, line in enumerate(lines):
        where = f"{prefix}refund_line_items[{i}]"
        if not isinstance(line, dict):
            raise MalformedWebhook(f"{where} must be an object", field=where)
        messages.append(_refund_line(line, where, order_id, reference, settings, occurred_at))
    return messages


def _refund_line(line: Json, where: str, order_id: int, reference: str | None,
                 settings: Mapping[str, str], occurred_at: datetime | None) -> InboundMessage:
    refund_line_id = numeric_id(line.get("id"), f"{where}.id")
    line_id = numeric_id(line.get("line_item_id"), f"{where}.line_item_id")
    quantity = bounded_int(line.get("quantity"), f"{where}.quantity", low=0)
    restock_type = line.get("restock_type")
    if not isinstance(restock_type, str):
        raise MalformedWebhook(f"{where}.restock_type must be a string",
                               field=f"{where}.restock_type")
    if restock_type not in RESTOCKING_TYPES:
        return Ignored(f"{where} restock_type {restock_type!r} does not restock")
    if quantity == 0:
        return Ignored(f"{where} has quantity 0")
    sku = _refunded_sku(line.get("line_item"), f"{where}.line_item")
    if sku is None:
        return Ignored(f"{where}.line_item.sku is not a valid stocksync SKU")
    location_id = line.get("location_id")  # where Shopify restocked; null: not given
    location = None
    if location_id is not None:
        location = _stocksync_location(settings, numeric_id(location_id,
                                                            f"{where}.location_id"))
    sale_key = f"shopify:{order_id}:{line_id}"
    return ChannelReturn(sku=sku, quantity=quantity, key=f"{sale_key}:refund:{refund_line_id}",
                         location=location, sale_key=sale_key, occurred_at=occurred_at,
                         reference=reference)


def _refunded_sku(line_item: object, where: str) -> str | None:
    """The refunded line's SKU; "" when the payload names only the line (the ingestor then
    takes the SKU of the sale), None when it names a SKU stocksync cannot hold."""
    if line_item is None:
        return ""
    if not isinstance(line_item, dict):
        raise MalformedWebhook(f"{where} must be an object", field=where)
    sku = line_item.get("sku")
    if sku is None or sku == "":
        return ""
    if not isinstance(sku, str):
        raise MalformedWebhook(f"{where}.sku must be a string or null", field=f"{where}.sku")
    return sku if is_valid_sku(sku) else None


def edit_messages(body: Json) -> list[InboundMessage]:
    """orders/edited: `{"order_edit": {id, order_id, line_items: {additions, removals}}}`,
    each change only `{id, delta}` (a line item id), per Shopify's published sample.

    The payload names no SKU, so an edit that changed line items becomes an OrderNotice:
    the ingestor reads the order back (ShopifyConnector.fetch_orders), which sells units
    the edit added under keys that count once however often the order is read
    (channels/shopify_order_messages.py). Removed units come back only where Shopify
    restocked them: it records them as refund lines whose restock_type says so, read from
    the order and delivered by refunds/create under the same refund-line keys.
    """
    edit = body.get("order_edit")
    if not isinstance(edit, dict):
        raise MalformedWebhook("order_edit must be an object", field="order_edit")
    order_id = numeric_id(edit.get("order_id"), "order_edit.order_id")
    edit_id = numeric_id(edit.get("id"), "order_edit.id")
    changes = edit.get("line_items")
    if not isinstance(changes, dict):
        raise MalformedWebhook("order_edit.line_items must be an object",
                               field="order_edit.line_items")
    changed = 0
    for kind in ("additions", "removals"):
        entries = changes.get(kind) or []
        if not isinstance(entries, list):
            raise MalformedWebhook(f"order_edit.line_items.{kind} must be a list",
                                   field=f"order_edit.line_items.{kind}")
        for i, entry in enumerate(entries):
            where = f"order_edit.line_items.{kind}[{i}]"
            if not isinstance(entry, dict):
                raise MalformedWebhook(f"{where} must be an object", field=where)
            numeric_id(entry.get("id"), f"{where}.id")
            changed += bounded_int(entry.get("delta"), f"{where}.delta", low=0) > 0
    if not changed:
        return [Ignored(f"order edit {edit_id} changed no line items")]
    return [OrderNotice(order_id=str(order_id))]


def level_report(level: Json) -> LevelReport:
    """inventory_levels/update (REST InventoryLevel): only `available` is carried."""
    item_id = numeric_id(level.get("inventory_item_id"), "inventory_item_id")
    location_id = numeric_id(level.get("location_id"), "location_id")
    available = level.get("available")
    if available is not None:  # null for an untracked item
        available = bounded_int(available, "available", low=-MAX_QUANTITY)
    return LevelReport(sku=None, external_id=INVENTORY_ITEM_GID.format(item_id),
                       value=available, channel_location=str(location_id),
                       observed_at=_optional_time(level.get("updated_at"), "updated_at"))


def _order_fields(order: Json, settings: Mapping[str, str]) -> tuple[int, str | None, str | None]:
    order_id = numeric_id(order.get("id"), "id")
    name = order.get("name")
    if name is not None and not isinstance(name, str):
        raise MalformedWebhook("name must be a string", field="name")
    location_id = order.get("location_id")  # null for online orders
    location = None
    if location_id is not None:
        location = _stocksync_location(settings, numeric_id(location_id, "location_id"))
    return order_id, name, location


def _stocksync_location(settings: Mapping[str, str], shop_location: int) -> str | None:
    """`location.<id>`, else the first location of the store location's mapped group
    (the rule of channels.registry.location_map, which this module cannot import: the
    Shopify connector imports it)."""
    group = location_legs(settings).get(str(shop_location), ())
    return settings.get(f"location.{shop_location}") or (group[0] if group else None)


def _lines(order: Json) -> list[tuple[str, Json]]:
    lines = order.get("line_items")
    if not isinstance(lines, list):
        raise MalformedWebhook("line_items must be a list", field="line_items")
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise MalformedWebhook(f"line_items[{i}] must be an object", field=f"line_items[{i}]")
    return [(f"line_items[{i}]", line) for i, line in enumerate(lines)]


def _line_fields(line: Json, where: str) -> tuple[int, str | None, int]:
    line_id = numeric_id(line.get("id"), f"{where}.id")
    quantity = bounded_int(line.get("quantity"), f"{where}.quantity", low=0)
    sku = line.get("sku")
    if sku is not None and not isinstance(sku, str):
        raise MalformedWebhook(f"{where}.sku must be a string or null", field=f"{where}.sku")
    # A custom item has no SKU; one stocksync cannot hold is not one it tracks either.
    return line_id, (sku if sku and is_valid_sku(sku) else None), quantity


def _skipped(where: str, line: Json) -> Ignored:
    if not line.get("sku"):
        return Ignored(f"{where} has no sku")
    if line.get("quantity") == 0:
        return Ignored(f"{where} has quantity 0")
    return Ignored(f"{where}.sku {line.get('sku')!r} is not a valid stocksync SKU")


def _reservation(attributes: object, where: str) -> str | None:
    """The stocksync_reservation_id entry of a [{"name", "value"}] list, if any."""
    if attributes is None:
        return None
    if not isinstance(attributes, list):
        raise MalformedWebhook(f"{where} must be a list", field=where)
    for i, attribute in enumerate(attributes):
        if isinstance(attribute, dict) and attribute.get("name") == RESERVATION_ATTRIBUTE:
            value = attribute.get("value")
            if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                raise MalformedWebhook(f"{where}[{i}].value must be a reservation id",
                                       field=f"{where}[{i}].value")
            return str(value)
    return None


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise MalformedWebhook(f"the {name} header is missing", field=name)
    if len(value) > MAX_HEADER_LENGTH:
        raise MalformedWebhook(f"the {name} header is longer than {MAX_HEADER_LENGTH}",
                               field=name)
    return value


def _load(body: bytes) -> Json:
    return load_object(body)





def _optional_time(value: object, where: str) -> datetime | None:
    return optional_time(value, where, "ISO-8601")
