"""What channels and tills tell stocksync, parsed from their webhooks (plain data).

A webhook parser turns one verified delivery into a list of these messages; the ingest
worker applies them. Every message that changes stock carries an idempotency key derived
from the channel's own ids, so the same order seen twice never applies twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class MalformedWebhook(ValueError):
    """The body is not what the platform sends: answered 4xx with this message."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


@dataclass(frozen=True, slots=True)
class ChannelSale:
    """Units sold in the channel (a till, an order line)."""

    sku: str
    quantity: int
    key: str  # idempotency key from the channel's ids, e.g. "shopify:<order>:<line>"
    location: str | None = None  # stocksync location code when the payload names one
    reservation_id: str | None = None  # commit this hold instead of selling anew
    occurred_at: datetime | None = None
    reference: str | None = None  # order name/number, for people


@dataclass(frozen=True, slots=True)
class ChannelReturn:
    """Units the channel put back into its own stock (a till return, a cancelled or
    refunded line the platform restocked). Only emit one when the platform restocks.
    `sku` may be "" when the payload names only the line: it is then the SKU of the sale
    with `sale_key`."""

    sku: str
    quantity: int
    key: str
    location: str | None = None
    # Only give stock back if the sale with this key was applied (a cancelled order that
    # stocksync never counted must not add stock).
    sale_key: str | None = None
    occurred_at: datetime | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class LevelReport:
    """The channel says a level changed: a hint, to be checked against the channel itself
    (fetch-on-notify). `value` is what the payload carried, if anything."""

    sku: str | None
    external_id: str | None  # the channel's id for the item (inventory item, variation…)
    value: int | None = None
    channel_location: str | None = None
    observed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderNotice:
    """The channel says an order was created or changed but does not carry its lines
    (Square's order.created/updated, eBay's order notifications): the ingestor reads the
    order from the channel (FetchesOrders) and applies what it finds.

    `summary`: what the notice itself tells of the order, when that may be enough to
    count it without a read (Amazon's ORDER_CHANGE); the connector decides
    (ReadsOrderSummaries), and the order is read when it cannot."""

    order_id: str
    channel_location: str | None = None
    summary: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


InboundMessage = ChannelSale | ChannelReturn | LevelReport | OrderNotice | Ignored


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    delivery_id: str  # the platform's dedupe id for this delivery
    topic: str
    messages: list[InboundMessage] = field(default_factory=list)
