"""POST /webhooks/{kind}/{channel}: verify, store, acknowledge. Processing comes after.

The delivery is verified on the raw body (constant-time), kept in the inbox keyed by
(channel, delivery id) and committed durably before the 2xx, so an acknowledged delivery
survives a crash right after the ack; a redelivery of a kept id is acknowledged and dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync import metrics
from stocksync.api.deps import correlation_id as usable_correlation_id
from stocksync.api.errors import json_error
from stocksync.app.service import INBOX, Stocksync
from stocksync.core.channels import Channel
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    LevelReport,
    MalformedWebhook,
    OrderNotice,
)
from stocksync.ingest.base import AnswersPings
from stocksync.ingest.registry import parser_for
from stocksync.storage import inbox
from stocksync.storage.channel_health import record_refused_webhook
from stocksync.storage.channels import channel_for_webhook
from stocksync.storage.engine import WRITE

router = APIRouter(tags=["webhooks"])
log = structlog.get_logger()
CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Receiver:
    channel: Channel
    credentials: dict[str, str]
    expires: float


class ReceiverCache:
    """webhook id -> channel and decrypted secrets, briefly, to keep the ack fast."""

    def __init__(self) -> None:
        self._known: dict[str, Receiver] = {}

    def get(self, svc: Stocksync, webhook_id: str) -> Receiver | None:
        hit = self._known.get(webhook_id)
        if hit is not None and hit.expires > time.monotonic():
            return hit
        with svc.engine.connect() as conn:
            found = channel_for_webhook(conn, webhook_id)
        if found is None:
            return None
        channel, sealed = found
        assert svc.box is not None
        receiver = Receiver(channel, svc.box.open(sealed) if sealed else {},
                            time.monotonic() + CACHE_SECONDS)
        self._known[webhook_id] = receiver
        return receiver


def _accept(svc: Stocksync, cache: ReceiverCache, kind: str, webhook_id: str,
            headers: dict[str, str], body: bytes, url: str) -> JSONResponse:
    receiver = cache.get(svc, webhook_id)
    if receiver is None or receiver.channel.kind.value != kind:
        metrics.WEBHOOKS.labels(kind, "unknown_channel").inc()
        return json_error(404, "unknown_webhook", "no channel receives webhooks here")
    try:
        parser = parser_for(kind)
    except KeyError:
        return json_error(404, "unknown_webhook", f"no webhooks of kind {kind}")
    channel = receiver.channel
    if isinstance(parser, AnswersPings) and parser.is_ping(headers, body):
        metrics.WEBHOOKS.labels(kind, "ping").inc()
        return JSONResponse({"status": "ok"})
    secret = receiver.credentials.get(parser.secret_field)
    signed_url = channel.settings.get("notification_url") or url
    if not secret or not parser.verify(secret, headers, body, signed_url):
        metrics.WEBHOOKS.labels(kind, "bad_signature").inc()
        metrics.WEBHOOKS_REFUSED.labels(channel.tenant_id, channel.code).inc()
        log.warning("webhook_bad_signature", tenant=channel.tenant_id, channel=channel.code,
                    kind=kind, has_secret=bool(secret))
        # Shown on the channel and alerted: a wrong secret silently loses every order.
        with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            record_refused_webhook(conn, channel.tenant_id, channel.code, svc.clock())
        return json_error(401, "invalid_signature",
                          "the webhook signature does not match this channel's secret")
    try:
        parsed = parser.parse(headers, body, channel.settings)
    except MalformedWebhook as exc:
        metrics.WEBHOOKS.labels(kind, "malformed").inc()
        return json_error(400, "malformed_webhook", exc.message, exc.details)
    correlation_id = usable_correlation_id(headers.get("x-correlation-id"))
    now = svc.clock()
    # A platform sends an order's webhook and the inventory notice it causes together, in
    # no set order. Notices wait a moment so the order is counted first and the notice is
    # then seen as the echo it is, not as a second, external change.
    # (A notice may also carry counts that are ignored, e.g. Square's RETURNED_BY_CUSTOMER.)
    only_notices = any(isinstance(m, LevelReport) for m in parsed.messages) and not any(
        isinstance(m, ChannelSale | ChannelReturn | OrderNotice) for m in parsed.messages)
    grace = timedelta(seconds=svc.settings.level_notice_grace_seconds)
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        stored = inbox.store(conn, tenant_id=channel.tenant_id, channel=channel.code,
                             kind=kind, delivery_id=parsed.delivery_id, topic=parsed.topic,
                             headers=headers, body=body, now=now,
                             correlation_id=correlation_id,
                             not_before=now + grace if only_notices else None)
    if stored is None:
        metrics.WEBHOOKS.labels(kind, "duplicate").inc()
        return JSONResponse({"status": "duplicate", "delivery_id": parsed.delivery_id})
    svc.bus.ring(INBOX)
    metrics.WEBHOOKS.labels(kind, "accepted").inc()
    log.info("webhook_accepted", tenant=channel.tenant_id, channel=channel.code,
             topic=parsed.topic, delivery_id=parsed.delivery_id, correlation_id=correlation_id)
    return JSONResponse({"status": "accepted", "id": stored, "delivery_id": parsed.delivery_id},
                        headers={"X-Correlation-Id": correlation_id})


@router.post("/webhooks/{kind}/{channel}", response_model=None)
async def receive_webhook(kind: str, channel: str, request: Request) -> JSONResponse:
    """Deliveries from a channel: `kind` is the platform, `channel` the channel's
    webhook id (shown as `webhook_path` on the channel)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    svc: Stocksync = request.app.state.service
    cache: ReceiverCache = request.app.state.receivers
    result: Any = await anyio.to_thread.run_sync(
        _accept, svc, cache, kind, channel, headers, body, str(request.url))
    return result


@router.get("/webhooks/ebay/{channel}", response_model=None)
async def ebay_endpoint_challenge(channel: str, challenge_code: str,
                                  request: Request) -> JSONResponse:
    """eBay validates a notification endpoint with GET ?challenge_code=X and expects
    hex(SHA-256(X + verification token + endpoint URL)) (ingest/ebay.py). The token is
    the channel's `notification_verification_token` credential; the URL is
    settings.notification_url when set (what was registered with eBay), else this one."""
    from stocksync.ingest.ebay import challenge_response

    svc: Stocksync = request.app.state.service
    cache: ReceiverCache = request.app.state.receivers
    receiver = await anyio.to_thread.run_sync(cache.get, svc, channel)
    token = receiver.credentials.get("notification_verification_token") if receiver else None
    if receiver is None or receiver.channel.kind.value != "ebay" or not token:
        return json_error(404, "unknown_webhook", "no eBay channel receives webhooks here")
    endpoint = (receiver.channel.settings.get("notification_url")
                or str(request.url.remove_query_params("challenge_code")))
    return JSONResponse({"challengeResponse": challenge_response(challenge_code, token,
                                                                 endpoint)})
