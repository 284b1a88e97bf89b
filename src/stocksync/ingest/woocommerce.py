"""WooCommerce webhooks (channels/woocommerce.md §5): orders and product stock.

Signature: X-WC-Webhook-Signature = base64(HMAC-SHA256(webhook secret, raw body)), §5.2.

Pings: saving or activating a webhook makes WooCommerce POST the form body
`webhook_id=<n>` with NO signature headers and expect a 2xx. `verify()` is False for it
(nothing is signed), so the endpoint must ask `is_ping()` first and accept an unsigned
ping; that is safe because a ping parses to `Ignored("ping")` and never moves stock.

Dedupe id: X-WC-Webhook-Delivery-Id changes on every attempt, so (woocommerce.md §5.3)
the id is "<topic>:<resource id>:<date_modified_gmt>", or "<topic>:sha256:<hex of body>"
when the payload lacks either (e.g. `*.deleted` carries only {"id": N}).

Orders: the payload is the order as it is at delivery time, and an order often starts
"pending" (awaiting payment) and only reaches "processing" in a later order.updated.
So order.created and order.updated both sell when the status is one where WooCommerce
reduces stock (processing, completed, on-hold) — the keys make the second one a no-op —
and both return when it is cancelled or refunded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
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
from stocksync.ingest.fields import load_object

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
SALE_STATUSES = frozenset({"processing", "completed", "on-hold"})
RETURN_STATUSES = frozenset({"cancelled", "refunded"})
MAX_TOPIC_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
MAX_MODIFIED_LENGTH = 40
MAX_QUANTITY = 1_000_000_000
_PING = re.compile(rb"^webhook_id=\d{1,20}$")
Json = dict[str, object]


def woocommerce_signature(secret: str, body: bytes) -> str:
    """The X-WC-Webhook-Signature value WooCommerce sends for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """The unsigned `webhook_id=<n>` POST WooCommerce sends when a webhook is saved."""
    return SIGNATURE_HEADER not in headers and _PING.match(body.strip()) is not None


def dedupe_id(topic: str, payload: Json | None, body: bytes) -> str:
    resource_id = payload.get("id") if payload is not None else None
    modified = payload.get("date_modified_gmt") if payload is not None else None
    if (isinstance(resource_id, int) and not isinstance(resource_id, bool)
            and isinstance(modified, str) and 0 < len(modified) <= MAX_MODIFIED_LENGTH):
        return f"{topic}:{resource_id}:{modified}"
    return f"{topic}:sha256:{hashlib.sha256(body).hexdigest()}"


class WooCommerceWebhookParser:
    """WooCommerce deliveries -> ChannelSale / ChannelReturn per order line, LevelReport per
    product or variation. Call `is_ping()` before `verify()` (see the module docstring)."""

    kind: ClassVar[str] = "woocommerce"
    secret_field: ClassVar[str] = "webhook_secret"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not secret or not given:
            return False
        return hmac.compare_digest(woocommerce_signature(secret, body).encode(),
                                   given.encode("utf-8", "replace"))

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return is_ping(headers, body)

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        if is_ping(headers, body):
            webhook_id = body.strip().removeprefix(b"webhook_id=").decode()
            return ParsedDelivery(f"ping:{webhook_id}", "ping", [Ignored("ping")])
        topic = headers.get(TOPIC_HEADER, "").strip()
        if not topic:
            raise MalformedWebhook(f"the {TOPIC_HEADER} header is missing", field=TOPIC_HEADER)
        if len(topic) > MAX_TOPIC_LENGTH:
            raise MalformedWebhook(f"the {TOPIC_HEADER} header is longer than "
                                   f"{MAX_TOPIC_LENGTH}", field=TOPIC_HEADER)
        if topic in ("order.created", "order.updated"):
            order = _load(body)
            return ParsedDelivery(dedupe_id(topic, order, body), topic, order_messages(order))
        if topic == "product.updated":
            product = _load(body)
            return ParsedDelivery(dedupe_id(topic, product, body), topic,
                                  [level_report(product)])
        return ParsedDelivery(dedupe_id(topic, _load_quietly(body), body), topic,
                              [Ignored(f"topic {topic!r} is not handled")])


def order_messages(order: Json) -> list[InboundMessage]:
    """Sales or returns for an order, by its status; keys woocommerce:<order>:<line>."""
    order_id = _id(order.get("id"), "id")
    status = order.get("status")
    if not isinstance(status, str):
        raise MalformedWebhook("status must be a string", field="status")
    if status not in SALE_STATUSES | RETURN_STATUSES:
        return [Ignored(f"order status {status!r} does not move stock")]
    reference = order.get("number")
    if reference is not None and not isinstance(reference, str):
        raise MalformedWebhook("number must be a string", field="number")
    selling = status in SALE_STATUSES
    occurred_at = _gmt(order, "date_created_gmt" if selling else "date_modified_gmt")
    lines = order.get("line_items")
    if not isinstance(lines, list):
        raise MalformedWebhook("line_items must be a list", field="line_items")
    messages: list[InboundMessage] = []
    for i, line in enumerate(lines):
        where = f"line_items[{i}]"
        if not isinstance(line, dict):
            raise MalformedWebhook(f"{where} must be an object", field=where)
        line_id = _id(line.get("id"), f"{where}.id")
        quantity = _int(line.get("quantity"), f"{where}.quantity", low=0)
        sku = line.get("sku")
        if sku is not None and not isinstance(sku, str):
            raise MalformedWebhook(f"{where}.sku must be a string or null", field=f"{where}.sku")
        if not sku or not is_valid_sku(sku) or quantity == 0:
            messages.append(_skipped(where, sku))
            continue
        sale_key = f"woocommerce:{order_id}:{line_id}"
        if selling:
            messages.append(ChannelSale(sku=sku, quantity=quantity, key=sale_key,
                                        occurred_at=occurred_at, reference=reference))
        else:
            # One key for cancelled and refunded, so a cancel then a refund returns once.
            messages.append(ChannelReturn(sku=sku, quantity=quantity, key=f"{sale_key}:return",
                                          sale_key=sale_key, occurred_at=occurred_at,
                                          reference=reference))
    return messages


def _skipped(where: str, sku: str | None) -> Ignored:
    if not sku:
        return Ignored(f"{where} has no sku")
    if not is_valid_sku(sku):
        return Ignored(f"{where}.sku {sku!r} is not a valid stocksync SKU")
    return Ignored(f"{where} has quantity 0")


def level_report(product: Json) -> LevelReport:
    """product.updated (a product or a variation): its stock, when WooCommerce manages it.

    A variation whose manage_stock is "parent" uses its parent's stock, so no value."""
    product_id = _id(product.get("id"), "id")
    sku = product.get("sku")
    if sku is not None and not isinstance(sku, str):
        raise MalformedWebhook("sku must be a string or null", field="sku")
    value = product.get("stock_quantity")
    if value is not None:
        value = _int(value, "stock_quantity", low=-MAX_QUANTITY)
    return LevelReport(
        sku=sku if sku and is_valid_sku(sku) else None, external_id=str(product_id),
        value=value if product.get("manage_stock") is True else None,
        observed_at=_gmt(product, "date_modified_gmt"))


def _gmt(payload: Json, name: str) -> datetime | None:
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


def _load(body: bytes) -> Json:
    return load_object(body)


def _load_quietly(body: bytes) -> Json | None:
    try:
        return _load(body)
    except MalformedWebhook:
        return None  # a topic we ignore may carry anything; it only needs an id


def _id(value: object, where: str) -> int:
    return _int(value, where, low=1, high=2**63 - 1)  # WordPress ids are BIGINT UNSIGNED


def _int(value: object, where: str, *, low: int, high: int = MAX_QUANTITY) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedWebhook(f"{where} must be an integer", field=where)
    if not low <= value <= high:
        raise MalformedWebhook(f"{where} must be between {low} and {high}", field=where)
    return value
