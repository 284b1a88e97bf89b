"""Webhooks of the WooCommerce simulator (woocommerce.md §5).

One webhook per topic, like WooCommerce. A change queues a delivery in a background task
(Action Scheduler, §5.3) unless one for the same (webhook, resource) is still pending: the
payload is built when the delivery runs, so rapid updates yield one delivery with the
latest state. Each delivery is tried ONCE (WooCommerce never retries); a 200-302 answer
resets the webhook's failure count, anything else raises it, and a webhook whose count is
already above the maximum is disabled instead (class-wc-webhook.php `failed_delivery`).
Saving or activating a webhook sends the unsigned `webhook_id=<n>` ping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import uuid4

import httpx

from stocksync.simulators.woocommerce_state import JsonObject, WooCommerceSimConfig, now_gmt

DELIVERY_LOG_SIZE = 10_000
WEBHOOK_STATUSES = ("active", "paused", "disabled")
# Topic -> payload built at delivery time; None when there is nothing to send any more.
PayloadBuilder = Callable[[str, int], JsonObject | None]


def woocommerce_signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64(HMAC-SHA256(webhook secret, exact body)) (§5.2)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def wp_json_encode(payload: JsonObject) -> bytes:
    """PHP's json_encode defaults: "/" escaped as "\\/" and non-ASCII as \\uXXXX, so a
    receiver that re-serialises the JSON instead of hashing the raw body fails to verify."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").strip().encode()


@dataclass(slots=True)
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str = "active"
    failure_count: int = 0
    created_gmt: str = field(default_factory=now_gmt)
    modified_gmt: str = field(default_factory=now_gmt)
    pending: set[int] = field(default_factory=set)  # resource ids with a queued delivery

    def as_json(self) -> JsonObject:
        resource, _, event = self.topic.partition(".")
        return {"id": self.id, "name": self.name, "status": self.status, "topic": self.topic,
                "resource": resource, "event": event, "delivery_url": self.delivery_url,
                "failure_count": self.failure_count,
                "date_created": self.created_gmt, "date_created_gmt": self.created_gmt,
                "date_modified": self.modified_gmt, "date_modified_gmt": self.modified_gmt}


@dataclass(slots=True)
class DeliveryRecord:
    delivery_id: str
    webhook_id: int
    topic: str  # "ping" for pings
    resource_id: int | None
    url: str
    at: str
    status: int | None = None
    error: str | None = None
    delivered: bool = False


class WebhookDeliverer:
    def __init__(self, config: WooCommerceSimConfig, build_payload: PayloadBuilder) -> None:
        self.config = config
        self.build_payload = build_payload
        self.webhooks: dict[int, Webhook] = {}
        self.log: list[DeliveryRecord] = []
        self.coalesced = 0  # changes folded into an already pending delivery
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_id = 0
        if config.webhook_url and config.webhook_secret:
            for topic in config.webhook_topics:
                self._add(topic, config.webhook_url, config.webhook_secret, topic, "active")

    # -- subscriptions -------------------------------------------------------------------
    def subscribe(self, url: str, secret: str, topics: list[str], status: str) -> list[Webhook]:
        """PUT /_sim/webhooks: replace all webhooks by one per topic, each saved (pinged)."""
        self.webhooks.clear()
        created = [self.create(topic, url, secret, topic, status) for topic in topics]
        return created

    def create(self, topic: str, url: str, secret: str, name: str, status: str) -> Webhook:
        webhook = self._add(topic, url, secret, name, status)
        if status == "active":
            self._spawn(self._ping(webhook))
        return webhook

    def update(self, webhook: Webhook, changes: JsonObject) -> Webhook:
        """PUT /webhooks/{id}: re-enabling a disabled webhook resets its failures (§5.3)."""
        activating = changes.get("status") == "active" and webhook.status != "active"
        for name in ("name", "topic", "delivery_url", "secret", "status"):
            if isinstance(changes.get(name), str):
                setattr(webhook, name, changes[name])
        if activating:
            webhook.failure_count = 0
        webhook.modified_gmt = now_gmt()
        if activating or (webhook.status == "active" and "delivery_url" in changes):
            self._spawn(self._ping(webhook))
        return webhook

    def ping_active(self) -> None:
        """At start-up: webhooks configured up front are saved now, so they are pinged."""
        for webhook in self.webhooks.values():
            if webhook.status == "active":
                self._spawn(self._ping(webhook))

    def _add(self, topic: str, url: str, secret: str, name: str, status: str) -> Webhook:
        if status not in WEBHOOK_STATUSES:
            raise ValueError(f"status must be one of {WEBHOOK_STATUSES}")
        self._next_id += 1
        webhook = Webhook(self._next_id, name, topic, url, secret, status)
        self.webhooks[webhook.id] = webhook
        return webhook

    # -- deliveries ----------------------------------------------------------------------
    def notify(self, topic: str, resource_id: int) -> None:
        """A hook fired for `resource_id`: queue one delivery per active webhook on `topic`."""
        for webhook in self.webhooks.values():
            if webhook.topic != topic or webhook.status != "active":
                continue
            if resource_id in webhook.pending:
                self.coalesced += 1  # wc_webhook_execute_queue: one pending per resource
                continue
            webhook.pending.add(resource_id)
            self._spawn(self._deliver(webhook, resource_id))

    async def _deliver(self, webhook: Webhook, resource_id: int) -> None:
        await asyncio.sleep(self.config.webhook_delay_s)
        webhook.pending.discard(resource_id)
        if webhook.status != "active":
            return
        payload = self.build_payload(webhook.topic, resource_id)
        if payload is None:
            return  # the resource is gone: WooCommerce has nothing to serialise
        body = wp_json_encode(payload)
        resource, _, event = webhook.topic.partition(".")
        delivery_id = uuid4().hex  # wp_hash(webhook id . now): new for every attempt
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self._user_agent(),
            "X-WC-Webhook-Source": self.config.home_url.rstrip("/") + "/",
            "X-WC-Webhook-Topic": webhook.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": woocommerce_signature(webhook.secret, body),
            "X-WC-Webhook-ID": str(webhook.id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        record = self._record(delivery_id, webhook, webhook.topic, resource_id)
        await self._post(record, body, headers)
        if record.delivered:
            webhook.failure_count = 0
        elif webhook.failure_count > self.config.webhook_max_failures:
            webhook.status = "disabled"
        else:
            webhook.failure_count += 1

    async def _ping(self, webhook: Webhook) -> None:
        """WC_Webhook::deliver_ping: a form body, no signature, no X-WC-Webhook-* headers;
        its outcome does not count as a delivery failure."""
        record = self._record(uuid4().hex, webhook, "ping", None)
        await self._post(record, f"webhook_id={webhook.id}".encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": self._user_agent()})

    async def _post(self, record: DeliveryRecord, body: bytes, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(self.config.webhook_timeout_s)
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.post(record.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return
        record.status = response.status_code
        record.delivered = 200 <= response.status_code <= 302  # 2xx, 301, 302 count (§5.3)

    def _record(self, delivery_id: str, webhook: Webhook, topic: str,
                resource_id: int | None) -> DeliveryRecord:
        record = DeliveryRecord(delivery_id, webhook.id, topic, resource_id,
                                webhook.delivery_url, now_gmt())
        self.log.append(record)
        del self.log[:-DELIVERY_LOG_SIZE]
        return record

    def _user_agent(self) -> str:
        return (f"WooCommerce/{self.config.wc_version} Hookshot "
                f"(WordPress/{self.config.wp_version})")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def snapshot(self) -> JsonObject:
        return {"webhooks": [w.as_json() for w in self.webhooks.values()],
                "deliveries": [asdict(record) for record in self.log],
                "coalesced": self.coalesced}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
