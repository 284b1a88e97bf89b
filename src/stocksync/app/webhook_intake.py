"""A channel's webhook delivery, handed over raw: find the channel it is for, verify the
signature on the raw body (constant-time, in the parser), and keep it in the inbox keyed by
(channel, delivery id), committed durably before it is acknowledged. Applying it comes
later (workers/ingest.py). Outcomes are typed; what they become over HTTP is the API's
business (api/routes/webhooks.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import structlog

from stocksync import metrics
from stocksync.app.group_keep import GroupKeep
from stocksync.app.ports import NewDelivery
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

log = structlog.get_logger()
CACHE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Accepted:
    id: int
    delivery_id: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A delivery id this channel's inbox already holds: acknowledged and dropped."""

    delivery_id: str


@dataclass(frozen=True, slots=True)
class Ping:
    """The platform checking that the endpoint answers: nothing to keep."""


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Literal["unknown_channel", "bad_signature", "malformed"]
    message: str
    details: dict[str, Any] = field(default_factory=dict)


Intake = Accepted | Duplicate | Ping | Refused


@dataclass(frozen=True, slots=True)
class Receiver:
    channel: Channel
    credentials: dict[str, str]
    expires: float


class WebhookIntake:
    def __init__(self, svc: Stocksync) -> None:
        self.svc = svc
        # webhook id -> channel and decrypted secrets, briefly, to keep the ack fast.
        self._known: dict[str, Receiver] = {}
        # Acks arriving together are kept in one transaction (app/group_keep.py).
        self._group = GroupKeep(svc.inbox.keep, svc.clock)

    def receiver(self, webhook_id: str) -> Receiver | None:
        hit = self._known.get(webhook_id)
        if hit is not None and hit.expires > time.monotonic():
            return hit
        found = self.svc.inbox.receiver(webhook_id)
        if found is None:
            return None
        channel, sealed = found
        assert self.svc.box is not None
        receiver = Receiver(channel, self.svc.box.open(sealed) if sealed else {},
                            time.monotonic() + CACHE_SECONDS)
        self._known[webhook_id] = receiver
        return receiver

    def accept(self, kind: str, webhook_id: str, headers: dict[str, str], body: bytes,
               url: str, correlation_id: str) -> Intake:
        receiver = self.receiver(webhook_id)
        if receiver is None or receiver.channel.kind.value != kind:
            metrics.WEBHOOKS.labels(kind, "unknown_channel").inc()
            return Refused("unknown_channel", "no channel receives webhooks here")
        try:
            parser = parser_for(kind)
        except KeyError:
            return Refused("unknown_channel", f"no webhooks of kind {kind}")
        channel = receiver.channel
        if isinstance(parser, AnswersPings) and parser.is_ping(headers, body):
            metrics.WEBHOOKS.labels(kind, "ping").inc()
            return Ping()
        secret = receiver.credentials.get(parser.secret_field)
        signed_url = channel.settings.get("notification_url") or url
        if not secret or not parser.verify(secret, headers, body, signed_url):
            self._refuse_signature(channel, kind, has_secret=bool(secret))
            return Refused("bad_signature",
                           "the webhook signature does not match this channel's secret")
        try:
            parsed = parser.parse(headers, body, channel.settings)
        except MalformedWebhook as exc:
            metrics.WEBHOOKS.labels(kind, "malformed").inc()
            return Refused("malformed", exc.message, dict(exc.details or {}))
        now = self.svc.clock()
        # A platform sends an order's webhook and the inventory notice it causes together,
        # in no set order. Notices wait a moment so the order is counted first and the
        # notice is then seen as the echo it is, not as a second, external change. (A notice
        # may also carry counts that are ignored, e.g. Square's RETURNED_BY_CUSTOMER.)
        only_notices = any(isinstance(m, LevelReport) for m in parsed.messages) and not any(
            isinstance(m, ChannelSale | ChannelReturn | OrderNotice) for m in parsed.messages)
        grace = timedelta(seconds=self.svc.settings.level_notice_grace_seconds)
        stored = self._group.keep(NewDelivery(
            channel.tenant_id, channel.code, kind, parsed.delivery_id, parsed.topic, headers,
            body, correlation_id, now + grace if only_notices else None))
        if stored is None:
            metrics.WEBHOOKS.labels(kind, "duplicate").inc()
            return Duplicate(parsed.delivery_id)
        self.svc.bus.ring(INBOX)
        metrics.WEBHOOKS.labels(kind, "accepted").inc()
        log.info("webhook_accepted", tenant=channel.tenant_id, channel=channel.code,
                 topic=parsed.topic, delivery_id=parsed.delivery_id,
                 correlation_id=correlation_id)
        return Accepted(stored, parsed.delivery_id)

    def _refuse_signature(self, channel: Channel, kind: str, *, has_secret: bool) -> None:
        metrics.WEBHOOKS.labels(kind, "bad_signature").inc()
        metrics.WEBHOOKS_REFUSED.labels(channel.tenant_id, channel.code).inc()
        log.warning("webhook_bad_signature", tenant=channel.tenant_id, channel=channel.code,
                    kind=kind, has_secret=has_secret)
        # Shown on the channel and alerted: a wrong secret silently loses every order.
        self.svc.inbox.record_refused(channel.tenant_id, channel.code, self.svc.clock())
