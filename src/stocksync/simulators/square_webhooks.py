"""Notifications of the Square simulator (square.md §6): `inventory.count.updated`, and
`order.created` / `order.updated` for orders made through the API (simulators/square_orders.py).

Signed with x-square-hmacsha256-signature = base64(HMAC-SHA256(signature key, notification
URL + raw body)), plus the legacy SHA-1 x-square-signature. Failed deliveries (no 2xx within
the timeout; 3xx counts as failure) are retried with the original body and event_id on the
schedule of Square's delivery-SLA page - 1, 2, 4, 8, 16, 32 minutes, then hourly - until the
retry window closes. Retries carry square-retry-number (resends so far, this one included)
and square-retry-reason (http_timeout | http_error | other_error, the values older Square
docs list; unconfirmed today).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from uuid import uuid4

import httpx

from stocksync.simulators.square_inventory import format_time, utc_now
from stocksync.simulators.square_state import JsonObject, SquareSimConfig

EVENT_TYPE = "inventory.count.updated"
COUNTS_PER_EVENT = 100  # "a batch of up to 100 individual inventory count updates"
DELIVERY_LOG_SIZE = 10_000
USER_AGENT = "Square Connect v2"


def square_signature(signature_key: str, url: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, notification URL + raw body)), as sent in
    x-square-hmacsha256-signature."""
    digest = hmac.new(signature_key.encode(), url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def legacy_signature(signature_key: str, url: str, body: bytes) -> str:
    digest = hmac.new(signature_key.encode(), url.encode() + body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def retry_delays(config: SquareSimConfig) -> list[float]:
    """Seconds to wait before each resend: doubling from the first interval, capped, until
    the window (measured from the event) is used up; then multiplied by the test scale."""
    delays: list[float] = []
    elapsed, step = 0.0, config.webhook_first_retry_s
    while step > 0 and elapsed + step <= config.webhook_retry_window_s:
        delays.append(step)
        elapsed += step
        step = min(step * 2, config.webhook_max_retry_interval_s)
    return [delay * config.webhook_retry_scale for delay in delays]


@dataclass(slots=True)
class DeliveryRecord:
    event_id: str
    url: str
    counts: int
    type: str = EVENT_TYPE
    attempts: int = 0
    delivered: bool = False
    statuses: list[int | None] = field(default_factory=list)
    last_error: str | None = None


class WebhookDeliverer:
    """Turns changed counts into signed POSTs, each notification in its own task, so API
    calls answer before anything is delivered."""

    def __init__(self, config: SquareSimConfig) -> None:
        self.config = config
        self.url = config.webhook_url
        self.signature_key = config.webhook_signature_key
        self.duplicate = False  # deliver each notification twice (the faults knob)
        self.log: list[DeliveryRecord] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def enqueue(self, counts: list[JsonObject]) -> None:
        for start in range(0, len(counts), COUNTS_PER_EVENT):
            chunk = counts[start:start + COUNTS_PER_EVENT]
            self.enqueue_event(EVENT_TYPE, {"type": "inventory_counts", "id": str(uuid4()),
                                            "object": {"inventory_counts": chunk}},
                               len(chunk))

    def enqueue_event(self, event_type: str, data: JsonObject, counts: int = 0) -> None:
        """One notification of `event_type` (order.created, order.updated, ...)."""
        if not self.url or not self.signature_key:
            return
        event_id = str(uuid4())
        event = {"merchant_id": self.config.merchant_id, "type": event_type,
                 "event_id": event_id, "created_at": format_time(utc_now()), "data": data}
        # Serialised once: every retry carries the same bytes, signature and event_id.
        body = json.dumps(event, separators=(",", ":")).encode()
        record = DeliveryRecord(event_id, self.url, counts, event_type)
        self.log.append(record)
        del self.log[:-DELIVERY_LOG_SIZE]
        task = asyncio.get_running_loop().create_task(
            self._deliver(self.url, self.signature_key, body, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def headers(self, url: str, key: str, body: bytes, first_attempt_at: str, resends: int,
                reason: str | None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "x-square-hmacsha256-signature": square_signature(key, url, body),
            "x-square-signature": legacy_signature(key, url, body),
            "square-environment": self.config.environment,
            "square-initial-delivery-timestamp": first_attempt_at,
        }
        if resends:  # present only once a delivery has failed
            headers["square-retry-number"] = str(resends)
            headers["square-retry-reason"] = reason or "other_error"
        return headers

    async def _deliver(self, url: str, key: str, body: bytes, record: DeliveryRecord) -> None:
        first_attempt_at = format_time(utc_now())
        reason: str | None = None
        timeout = httpx.Timeout(self.config.webhook_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            for resends, delay in enumerate([0.0, *retry_delays(self.config)]):
                await asyncio.sleep(delay)
                record.attempts += 1
                headers = self.headers(url, key, body, first_attempt_at, resends, reason)
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.TimeoutException as exc:
                    reason, record.last_error = "http_timeout", repr(exc)
                    record.statuses.append(None)
                    continue
                except httpx.HTTPError as exc:
                    reason, record.last_error = "other_error", repr(exc)
                    record.statuses.append(None)
                    continue
                record.statuses.append(response.status_code)
                if response.is_success:
                    record.delivered = True
                    if self.duplicate:  # at-least-once: receivers must dedupe on event_id
                        with suppress(httpx.HTTPError):
                            await client.post(url, content=body, headers=headers)
                    return
                reason = "http_error"

    def snapshot(self) -> list[JsonObject]:
        return [asdict(record) for record in self.log]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
