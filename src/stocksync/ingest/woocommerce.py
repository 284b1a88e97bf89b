"""WooCommerce webhooks (channels/woocommerce.md §5): orders and product stock.

Signature: X-WC-Webhook-Signature = base64(HMAC-SHA256(webhook secret, raw body)), §5.2.

Pings: saving or activating a webhook makes WooCommerce POST the form body
`webhook_id=<n>` with NO signature headers and expect a 2xx. `verify()` is False for it
(nothing is signed), so the endpoint must ask `is_ping()` first and accept an unsigned
ping; that is safe because a ping parses to `Ignored("ping")` and never moves stock.

Dedupe id: X-WC-Webhook-Delivery-Id changes on every attempt, so it cannot spot a
redelivery; (topic, id, date_modified_gmt) alone has one-second resolution and would fold
two real changes made in the same second into one. The id is therefore
"<topic>:<resource id>:<date_modified_gmt>:<sha256 of the body, 32 hex>": the same body
delivered again is dropped, any difference in the resource is a new delivery (its
messages are keyed, so re-reading an unchanged line is harmless anyway). A payload
without id or date (e.g. `*.deleted` carries only {"id": N}) is "<topic>:sha256:<hex>".

Orders: the payload is the order as it is at delivery time; what it means for stock is
decided in channels/woocommerce_orders.py, shared with the order poll and fetch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import ClassVar

from stocksync.channels.woocommerce_orders import MAX_QUANTITY, gmt, order_messages
from stocksync.core.inbound import (
    Ignored,
    LevelReport,
    MalformedWebhook,
    ParsedDelivery,
)
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.fields import bounded_int, load_object, numeric_id

__all__ = ["WooCommerceWebhookParser", "dedupe_id", "is_ping", "level_report",
           "order_messages", "woocommerce_signature"]

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
MAX_TOPIC_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
MAX_MODIFIED_LENGTH = 40
BODY_HASH_LENGTH = 32  # hex digits of the body's sha256 in the dedupe id
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
    digest = hashlib.sha256(body).hexdigest()
    if (isinstance(resource_id, int) and not isinstance(resource_id, bool)
            and isinstance(modified, str) and 0 < len(modified) <= MAX_MODIFIED_LENGTH):
        return f"{topic}:{resource_id}:{modified}:{digest[:BODY_HASH_LENGTH]}"
    return f"{topic}:sha256:{digest}"


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


def level_report(product: Json) -> LevelReport:
    """product.updated (a product or a variation): its stock, when WooCommerce manages it.

    A variation whose manage_stock is "parent" uses its parent's stock, so no value."""
    product_id = numeric_id(product.get("id"), "id")
    sku = product.get("sku")
    if sku is not None and not isinstance(sku, str):
        raise MalformedWebhook("sku must be a string or null", field="sku")
    value = product.get("stock_quantity")
    if value is not None:
        value = bounded_int(value, "stock_quantity", low=-MAX_QUANTITY)
    return LevelReport(
        sku=sku if sku and is_valid_sku(sku) else None, external_id=str(product_id),
        value=value if product.get("manage_stock") is True else None,
        observed_at=gmt(product, "date_modified_gmt"))


def _load(body: bytes) -> Json:
    return load_object(body)


def _load_quietly(body: bytes) -> Json | None:
    try:
        return _load(body)
    except MalformedWebhook:
        return None  # a topic we ignore may carry anything; it only needs an id



