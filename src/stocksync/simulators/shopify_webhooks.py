"""Webhook deliveries of the Shopify simulator: signed, retried, in background tasks.

shopify.md §6.2 (headers), §6.3 (HMAC), §6.4 (retries: 8 over 4 hours, exponential; the
original payload and address from trigger time; no 2xx within 5 s = failure; redirects are
failures).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from uuid import uuid4

import httpx

from stocksync.simulators.shopify_state import JsonObject, ShopifySimConfig, now_iso

RETRY_WINDOW_S = 4 * 3600.0
DELIVERY_LOG_SIZE = 10_000
USER_AGENT = "Shopify-Captain-Hook"


def shopify_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(client secret, raw body)) as sent in X-Shopify-Hmac-Sha256."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def retry_delays(max_retries: int, scale: float) -> list[float]:
    """Doubling delays whose sum is the 4-hour window (base = 4 h / (2^n - 1)), scaled."""
    base = RETRY_WINDOW_S / (2 ** max_retries - 1)
    return [base * 2 ** attempt * scale for attempt in range(max_retries)]


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    body: bytes
    url: str
    secret: str
    webhook_id: str  # reused by every retry of this delivery (dedupe key, shopify.md §6.2)
    event_id: str  # shared by the deliveries one merchant action produced
    triggered_at: str


@dataclass(slots=True)
class DeliveryRecord:
    webhook_id: str
    event_id: str
    topic: str
    url: str
    attempts: int = 0
    delivered: bool = False
    last_status: int | None = None
    last_error: str | None = None


class WebhookDeliverer:
    """Turns (topic, payload, event id) into signed POSTs, each in its own background task,
    so admin calls and mutations return before anything is delivered."""

    def __init__(self, config: ShopifySimConfig) -> None:
        self.config = config
        self.url = config.webhook_url
        self.secret = config.webhook_secret
        self.log: list[DeliveryRecord] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def enqueue(self, topic: str, payload: JsonObject, event_id: str) -> None:
        if not self.url or not self.secret:
            return
        # Serialised once: retries carry the payload from trigger time (shopify.md §6.4).
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(topic, body, self.url, self.secret, str(uuid4()), event_id,
                            now_iso())
        record = DeliveryRecord(delivery.webhook_id, event_id, topic, delivery.url)
        self.log.append(record)
        del self.log[:-DELIVERY_LOG_SIZE]
        task = asyncio.get_running_loop().create_task(self._deliver(delivery, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": shopify_hmac(delivery.secret, delivery.body),
            "X-Shopify-Shop-Domain": self.config.shop_domain,
            "X-Shopify-API-Version": self.config.webhook_api_version,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
        }

    async def _deliver(self, delivery: Delivery, record: DeliveryRecord) -> None:
        delays = retry_delays(self.config.webhook_max_retries, self.config.webhook_retry_scale)
        timeout = httpx.Timeout(self.config.webhook_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            for delay in [0.0, *delays]:
                await asyncio.sleep(delay)
                record.attempts += 1
                try:
                    response = await client.post(delivery.url, content=delivery.body,
                                                 headers=self.headers(delivery))
                except httpx.HTTPError as exc:
                    record.last_error = f"{type(exc).__name__}: {exc}"
                    continue
                record.last_status = response.status_code
                if response.is_success:  # 3xx counts as a failure, like Shopify
                    record.delivered = True
                    return

    def snapshot(self) -> list[JsonObject]:
        return [asdict(record) for record in self.log]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
