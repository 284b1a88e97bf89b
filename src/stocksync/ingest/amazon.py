"""Amazon ORDER_CHANGE notifications, forwarded to stocksync by the deployment.

Amazon delivers SP-API notifications to an Amazon SQS queue (ORDER_CHANGE is an SQS type) or
an EventBridge bus, never to an HTTP endpoint, and signs nothing (amazon.md §5). So the
deployment runs a small forwarder (e.g. a Lambda on the queue) that owns this contract:

- POST /webhooks/amazon/{channel} with the SQS message body UNCHANGED as the request body
  (the notification JSON document; an EventBridge event is accepted too: its `detail` is
  the notification).
- Header `X-Stocksync-Signature: base64(HMAC-SHA256(webhook_secret, raw body))`, where
  `webhook_secret` is the channel's credential of that name.
- Delete the SQS message only after a 2xx; a redelivered message is harmless, because the
  dedupe id is the notification's `NotificationMetadata.NotificationId`.

An ORDER_CHANGE names the order and carries a summary of its items
(schemas/notifications/OrderChangeNotification.json). A merchant-fulfilled ORDER_CHANGE
becomes an OrderNotice with that summary: an order-level notification (every item listed)
of an order Amazon took the quantity of is counted from it at once; otherwise (an
OrderItemLevel notification carries one item only, and whether a cancellation gave the
quantity back depends on item details the Orders API reports) the ingestor reads the order
(getOrder + getOrderItems). Either way with the keys the poll uses
(channels/amazon_orders.py). FBA (AFN) orders are Ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from stocksync.core.inbound import (
    Ignored,
    InboundMessage,
    MalformedWebhook,
    OrderNotice,
    ParsedDelivery,
)
from stocksync.ingest.fields import load_object

SIGNATURE_HEADER = "x-stocksync-signature"
ORDER_CHANGE = "ORDER_CHANGE"
MAX_ID_LENGTH = 100  # the inbox keeps topics up to 100 and delivery ids up to 200
NOTIFICATION = "Payload.OrderChangeNotification"
Json = dict[str, Any]


def stocksync_signature(secret: str, body: bytes) -> str:
    """The X-Stocksync-Signature value a forwarder sends for `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class AmazonNotificationParser:
    """Forwarded SP-API notifications -> OrderNotice for merchant-fulfilled ORDER_CHANGEs."""

    kind: ClassVar[str] = "amazon"
    secret_field: ClassVar[str] = "webhook_secret"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not secret or not given:
            return False
        return hmac.compare_digest(stocksync_signature(secret, body).encode(),
                                   given.encode("utf-8", "replace"))

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        notification = _notification(load_object(body))
        metadata = notification.get("NotificationMetadata")
        if not isinstance(metadata, dict):
            raise MalformedWebhook("NotificationMetadata must be an object",
                                   field="NotificationMetadata")
        delivery_id = _text(metadata, "NotificationId", "NotificationMetadata.NotificationId")
        topic = _text(notification, "NotificationType", "NotificationType")
        if topic != ORDER_CHANGE:
            return ParsedDelivery(delivery_id, topic,
                                  [Ignored(f"notification type {topic!r} is not handled")])
        return ParsedDelivery(delivery_id, topic, order_change(notification, settings))


def order_change(notification: Json, settings: Mapping[str, str]) -> list[InboundMessage]:
    payload = notification.get("Payload")
    change = payload.get("OrderChangeNotification") if isinstance(payload, dict) else None
    if not isinstance(change, dict):
        raise MalformedWebhook(f"{NOTIFICATION} must be an object", field=NOTIFICATION)
    order_id = _text(change, "AmazonOrderId", f"{NOTIFICATION}.AmazonOrderId")
    seller_id = _text(change, "SellerId", f"{NOTIFICATION}.SellerId")
    summary = change.get("Summary")
    if not isinstance(summary, dict):
        raise MalformedWebhook(f"{NOTIFICATION}.Summary must be an object",
                               field=f"{NOTIFICATION}.Summary")
    where = f"{NOTIFICATION}.Summary"
    marketplace = _text(summary, "MarketplaceId", f"{where}.MarketplaceId")
    fulfillment = _text(summary, "FulfillmentType", f"{where}.FulfillmentType")
    if settings.get("seller_id") and seller_id != settings["seller_id"]:
        return [Ignored(f"order {order_id} belongs to seller {seller_id}, not this channel's")]
    if settings.get("marketplace_id") and marketplace != settings["marketplace_id"]:
        return [Ignored(f"order {order_id} is in marketplace {marketplace}")]
    if fulfillment != "MFN":
        # FBA stock is Amazon's to manage, not in the merchant's ledger.
        return [Ignored(f"order {order_id} is fulfilled by Amazon ({fulfillment})")]
    return [OrderNotice(order_id=order_id, summary=order_summary(change, summary))]


def order_summary(change: Json, summary: Json) -> Json | None:
    """What the notification tells of the order, for the connector to count it without a
    read (channels/amazon_orders.py `from_summary`): None when an item is incomplete."""
    items = []
    for item in summary.get("OrderItems") or []:
        if not isinstance(item, dict):
            return None
        item_id, sku, quantity = item.get("OrderItemId"), item.get("SellerSKU"), \
            item.get("Quantity")
        if not (isinstance(item_id, str) and item_id and isinstance(sku, str) and sku
                and isinstance(quantity, int) and not isinstance(quantity, bool)):
            return None
        items.append({"item_id": item_id, "sku": sku, "quantity": quantity,
                      "buyer_requested_cancel": item.get("IsBuyerRequestedCancel") is True})
    trigger = change.get("OrderChangeTrigger")
    changed_at = trigger.get("TimeOfOrderChange") if isinstance(trigger, dict) else None
    return {"level": change.get("NotificationLevel"), "status": summary.get("OrderStatus"),
            "fulfillment": summary.get("FulfillmentType"),
            "purchased_at": summary.get("PurchaseDate"), "updated_at": changed_at,
            "items": items}


def _notification(body: Json) -> Json:
    """The notification itself: the SQS message body, or an EventBridge event's `detail`."""
    if "NotificationType" not in body and isinstance(body.get("detail"), dict):
        detail: Json = body["detail"]
        return detail
    return body


def _text(payload: Json, name: str, where: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedWebhook(f"{where} must be a non-empty string", field=where)
    if len(value) > MAX_ID_LENGTH:
        raise MalformedWebhook(f"{where} is longer than {MAX_ID_LENGTH}", field=where)
    return value
