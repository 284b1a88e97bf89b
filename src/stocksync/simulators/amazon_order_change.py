"""ORDER_CHANGE notifications of the Amazon simulator, and the forwarder a stocksync
deployment runs between Amazon's SQS queue and stocksync (contract: ingest/amazon.py).

Amazon puts each notification on the seller's SQS queue; the forwarder POSTs the message
body unchanged, signed `X-Stocksync-Signature: base64(HMAC-SHA256(webhook_secret, body))`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC
from typing import TYPE_CHECKING

import httpx

from stocksync.simulators.amazon_state import AmazonSimState, JsonObject, now_iso

if TYPE_CHECKING:
    from stocksync.simulators.amazon_orders import SimOrder

SIGNATURE_HEADER = "X-Stocksync-Signature"
FORWARD_TIMEOUT_S = 5.0
SUMMARY_FIELDS = ("MarketplaceId", "OrderStatus", "PurchaseDate", "OrderType",
                  "NumberOfItemsShipped", "NumberOfItemsUnshipped")


def stocksync_signature(secret: str, body: bytes) -> str:
    """The forwarding contract: base64(HMAC-SHA256(webhook_secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def order_change(sim: AmazonSimState, order: SimOrder, change_type: str, reason: str
                 ) -> JsonObject:
    """ORDER_CHANGE as schemas/notifications/OrderChangeNotification.json shows it
    (OrderLevel: every item of the order in one payload)."""
    rendered = order.render(sim.config.marketplace_id)
    summary = {key: value for key, value in rendered.items() if key in SUMMARY_FIELDS}
    summary |= {"FulfillmentType": order.channel, "DestinationPostalCode": None,
                "OrderItems": [{
                    "OrderItemId": item.item_id, "SellerSKU": item.sku,
                    "SupplySourceId": None, "Quantity": item.quantity,
                    "QuantityShipped": item.shipped,
                    "IsBuyerRequestedCancel": item.buyer_cancel_reason is not None}
                    for item in order.items]}
    changed_at = order.updated_at.astimezone(UTC).isoformat(timespec="milliseconds")
    return {"NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0", "EventTime": now_iso(),
            "Payload": {"OrderChangeNotification": {
                "NotificationLevel": "OrderLevel", "SellerId": sim.config.seller_id,
                "AmazonOrderId": order.order_id, "OrderChangeType": change_type,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": changed_at.replace("+00:00", "Z"),
                    "ChangeReason": reason},
                "Summary": summary}},
            "NotificationMetadata": {"ApplicationId": sim.config.lwa_client_id,
                                     "SubscriptionId": "stocksync-sim-order-change",
                                     "PublishTime": now_iso(),
                                     "NotificationId": secrets.token_hex(16)}}


class Forwarder:
    """Posts each notification once to `url`, signed with `secret` (both None: off)."""

    def __init__(self, url: str | None, secret: str | None) -> None:
        self.url = url
        self.secret = secret
        self.log: list[JsonObject] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, notification: JsonObject) -> None:
        if self.url and self.secret:
            task = asyncio.get_running_loop().create_task(
                self._post(self.url, self.secret, notification))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, secret: str, notification: JsonObject) -> None:
        body = json.dumps(notification).encode()
        record: JsonObject = {
            "notification_id": notification["NotificationMetadata"]["NotificationId"],
            "order_id": notification["Payload"]["OrderChangeNotification"]["AmazonOrderId"],
            "status": None, "error": None}
        self.log.append(record)
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: stocksync_signature(secret, body)}
        try:
            async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S) as client:
                response = await client.post(url, content=body, headers=headers)
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
