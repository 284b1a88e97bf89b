"""Shopify webhooks (channels/shopify.md §6): orders, cancellations, inventory levels.

Signature: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(app client secret, raw body)), §6.3.
Dedupe id: X-Shopify-Webhook-Id, which every retry of one delivery reuses (§6.2, §6.4).
Retries carry the payload from trigger time and ordering is not guaranteed, so an
inventory_levels/update is only a hint (LevelReport), checked against Shopify itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    LevelReport,
    MalformedWebhook,
    ParsedDelivery,
)
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.fields import load_object, optional_time

HMAC_HEADER = "x-shopify-hmac-sha256"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TOPIC_HEADER = "x-shopify-topic"
RESERVATION_ATTRIBUTE = "stocksync_reservation_id"  # set by our storefront integration
INVENTORY_ITEM_GID = "gid://shopify/InventoryItem/{}"
MAX_HEADER_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
MAX_QUANTITY = 1_000_000_000
Json = dict[str, object]


def shopify_hmac(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value Shopify sends for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyWebhookParser:
    """Shopify deliveries -> ChannelSale / ChannelReturn per order line, LevelReport per level.

    Settings: `location.<shopify location id>` = stocksync location code for orders placed
    at that Shopify location; without it a sale's location is left to the worker.
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
            messages = order_returns(_load(body), settings)
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


def order_returns(order: Json, settings: Mapping[str, str]) -> list[InboundMessage]:
    """orders/cancelled: one ChannelReturn per line, applied only if its sale was."""
    order_id, reference, location = _order_fields(order, settings)
    occurred_at = (_optional_time(order.get("cancelled_at"), "cancelled_at")
                   or _optional_time(order.get("updated_at"), "updated_at"))
    messages: list[InboundMessage] = []
    for where, line in _lines(order):
        line_id, sku, quantity = _line_fields(line, where)
        if sku is None or quantity == 0:
            messages.append(_skipped(where, line))
            continue
        sale_key = f"shopify:{order_id}:{line_id}"
        messages.append(ChannelReturn(
            sku=sku, quantity=quantity, key=f"{sale_key}:cancel", location=location,
            sale_key=sale_key, occurred_at=occurred_at, reference=reference))
    return messages


def level_report(level: Json) -> LevelReport:
    """inventory_levels/update (REST InventoryLevel): only `available` is carried."""
    item_id = _id(level.get("inventory_item_id"), "inventory_item_id")
    location_id = _id(level.get("location_id"), "location_id")
    available = level.get("available")
    if available is not None:  # null for an untracked item
        available = _int(available, "available", low=-MAX_QUANTITY)
    return LevelReport(sku=None, external_id=INVENTORY_ITEM_GID.format(item_id),
                       value=available, channel_location=str(location_id),
                       observed_at=_optional_time(level.get("updated_at"), "updated_at"))


def _order_fields(order: Json, settings: Mapping[str, str]) -> tuple[int, str | None, str | None]:
    order_id = _id(order.get("id"), "id")
    name = order.get("name")
    if name is not None and not isinstance(name, str):
        raise MalformedWebhook("name must be a string", field="name")
    location_id = order.get("location_id")  # null for online orders
    location = None
    if location_id is not None:
        location = settings.get(f"location.{_id(location_id, 'location_id')}") or None
    return order_id, name, location


def _lines(order: Json) -> list[tuple[str, Json]]:
    lines = order.get("line_items")
    if not isinstance(lines, list):
        raise MalformedWebhook("line_items must be a list", field="line_items")
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise MalformedWebhook(f"line_items[{i}] must be an object", field=f"line_items[{i}]")
    return [(f"line_items[{i}]", line) for i, line in enumerate(lines)]


def _line_fields(line: Json, where: str) -> tuple[int, str | None, int]:
    line_id = _id(line.get("id"), f"{where}.id")
    quantity = _int(line.get("quantity"), f"{where}.quantity", low=0)
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


def _id(value: object, where: str) -> int:
    return _int(value, where, low=1, high=2**63 - 1)  # Shopify ids are 64-bit integers


def _int(value: object, where: str, *, low: int, high: int = MAX_QUANTITY) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedWebhook(f"{where} must be an integer", field=where)
    if not low <= value <= high:
        raise MalformedWebhook(f"{where} must be between {low} and {high}", field=where)
    return value


def _optional_time(value: object, where: str) -> datetime | None:
    return optional_time(value, where, "ISO-8601")
