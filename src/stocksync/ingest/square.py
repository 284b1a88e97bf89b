"""Square webhooks (channels/square.md §6): inventory.count.updated, order.created and
order.updated.

Signature: x-square-hmacsha256-signature = base64(HMAC-SHA256(subscription signature key,
notification URL + raw body)). The URL is the exact one registered with Square, so a proxy
that rewrites scheme, host or path makes every signature look wrong.
Dedupe id: the payload's event_id, which retries keep.
Counts are absolute, may come several per event (one per state and location), and
arrive in any order, so each IN_STOCK count is a LevelReport hint stamped calculated_at.
Order events carry the order's id, location, state and version, never its lines
(OrderCreated/OrderUpdated in Square's OpenAPI document): each becomes an OrderNotice and the
ingestor reads the order (SquareConnector.fetch_orders). Square publishes them only for
orders made with CreateOrder, not for till sales, which the connector's order poll finds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from stocksync.core.inbound import (
    Ignored,
    InboundMessage,
    LevelReport,
    MalformedWebhook,
    OrderNotice,
    ParsedDelivery,
)
from stocksync.ingest.fields import load_object, optional_time

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
INVENTORY_EVENT = "inventory.count.updated"
ORDER_EVENTS = {"order.created": "order_created", "order.updated": "order_updated"}
COUNTS = "data.object.inventory_counts"
MAX_ID_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
MAX_QUANTITY = 1_000_000_000
Json = dict[str, object]


def square_signature(signature_key: str, url: str, body: bytes) -> str:
    """The x-square-hmacsha256-signature value Square sends for `body` posted to `url`."""
    digest = hmac.new(signature_key.encode(), url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class SquareWebhookParser:
    """Square deliveries -> one LevelReport per IN_STOCK inventory count, or one
    OrderNotice per order event."""

    kind: ClassVar[str] = "square"
    secret_field: ClassVar[str] = "signature_key"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not secret or not given:
            return False
        return hmac.compare_digest(square_signature(secret, url, body).encode(),
                                   given.encode("utf-8", "replace"))

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        event = _load(body)
        event_id = _text(event, "event_id", "event_id")
        event_type = _text(event, "type", "type")
        if event_type in ORDER_EVENTS:
            return ParsedDelivery(event_id, event_type, [order_notice(event, event_type)])
        if event_type != INVENTORY_EVENT:
            return ParsedDelivery(event_id, event_type,
                                  [Ignored(f"event type {event_type!r} is not handled")])
        return ParsedDelivery(event_id, event_type, count_reports(event))


def order_notice(event: Json, event_type: str) -> OrderNotice:
    """data.object.order_created|order_updated -> the order to read (its id and location)."""
    member = ORDER_EVENTS[event_type]
    where = f"data.object.{member}"
    data = event.get("data")
    holder = data.get("object") if isinstance(data, dict) else None
    summary = holder.get(member) if isinstance(holder, dict) else None
    if not isinstance(summary, dict):
        raise MalformedWebhook(f"{where} must be an object", field=where)
    location = summary.get("location_id")
    return OrderNotice(
        order_id=_text(summary, "order_id", f"{where}.order_id"),
        channel_location=None if location is None else _text(
            summary, "location_id", f"{where}.location_id"))


def count_reports(event: Json) -> list[InboundMessage]:
    """data.object.inventory_counts -> a LevelReport per IN_STOCK count."""
    data = event.get("data")
    counts_object = data.get("object") if isinstance(data, dict) else None
    counts = counts_object.get("inventory_counts") if isinstance(counts_object, dict) else None
    if not isinstance(counts, list):
        raise MalformedWebhook(f"{COUNTS} must be a list", field=COUNTS)
    messages: list[InboundMessage] = []
    for i, count in enumerate(counts):
        where = f"{COUNTS}[{i}]"
        if not isinstance(count, dict):
            raise MalformedWebhook(f"{where} must be an object", field=where)
        state = _text(count, "state", f"{where}.state")
        if state != "IN_STOCK":  # e.g. WASTE, SOLD, IN_TRANSIT_TO: not sellable stock
            messages.append(Ignored(f"{where} is in state {state!r}"))
            continue
        messages.append(LevelReport(
            sku=None,
            external_id=_text(count, "catalog_object_id", f"{where}.catalog_object_id"),
            value=_quantity(count.get("quantity"), f"{where}.quantity"),
            channel_location=_text(count, "location_id", f"{where}.location_id"),
            observed_at=_optional_time(count.get("calculated_at"), f"{where}.calculated_at")))
    return messages


def _quantity(value: object, where: str) -> int:
    """Square sends quantities as decimal strings ("10", "10.00"); stock here is whole."""
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    if number is None or not number.is_finite():
        raise MalformedWebhook(f"{where} must be a decimal string", field=where)
    if number != number.to_integral_value():
        raise MalformedWebhook(f"{where} must be a whole number, got {value!r}", field=where)
    if abs(number) > MAX_QUANTITY:
        raise MalformedWebhook(f"{where} must be within ±{MAX_QUANTITY:,}", field=where)
    return int(number)


def _text(payload: Json, name: str, where: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedWebhook(f"{where} must be a non-empty string", field=where)
    if len(value) > MAX_ID_LENGTH:
        raise MalformedWebhook(f"{where} is longer than {MAX_ID_LENGTH}", field=where)
    return value


def _load(body: bytes) -> Json:
    return load_object(body)


def _optional_time(value: object, where: str) -> datetime | None:
    return optional_time(value, where, "RFC 3339")
