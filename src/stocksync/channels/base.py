"""The channel connector interface and the only errors connectors may raise.

Each connector module maps its platform's HTTP failures, in one place, to these errors:
`RateLimited` and `Unavailable` are retried with backoff and jitter by the pusher;
`Rejected` is parked and alerted, never retried.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from stocksync.core.inbound import InboundMessage


@dataclass(frozen=True, slots=True)
class QuantitySet:
    """Set the channel's sellable quantity of `sku` to `quantity` (absolute, idempotent).
    `known` is the value stocksync last knew the channel had (for compare-and-set)."""

    sku: str
    quantity: int
    known: int | None = None
    # The newest change made at this channel itself (its own sale or restock) that
    # `quantity` already accounts for. A platform that orders stock changes by time
    # (Square's occurred_at) must not stamp the set earlier than this, nor "now": a sale
    # made at the channel after `as_of` and not yet counted by stocksync must stay applied.
    as_of: datetime | None = None


@dataclass(slots=True)  # filled in by the connector as its calls answer
class PushReport:
    acknowledged: dict[str, int] = field(default_factory=dict)  # sku -> value now there
    rejected: dict[str, str] = field(default_factory=dict)  # sku -> reason (not retried)
    # Compare-and-set lost: the channel changed the stock itself since `known` (a sale
    # whose order may not be counted yet). The connector did NOT overwrite it; this is the
    # value the channel shows now. The pusher lets the channel's orders arrive first.
    changed: dict[str, int] = field(default_factory=dict)
    # When `changed` was read (just before the read was sent): every sale the channel
    # made before it is in those values. None: no later than the push was sent.
    changed_read_at: datetime | None = None
    # Per SKU of `changed`, when the channel last changed that value, where its API says
    # (Shopify's InventoryQuantity.updatedAt): better than `changed_read_at`, which a slow
    # or queued read makes early (a sale made after it may already be in the value).
    changed_as_of: dict[str, datetime] = field(default_factory=dict)
    # Accepted but not yet applied by the platform (Amazon's ACCEPTED): sku -> seconds to
    # wait before the connector is asked about it again. Not acknowledged, not parked.
    pending: dict[str, float] = field(default_factory=dict)


# Levels read by `fetch_quantities` in this context: key -> when the channel last changed
# that value (a platform's own timestamp). A change the channel made up to then is in the
# value read and none after it, however late the read ran; connectors whose API states it
# record it here (see `level_times`).
_LEVEL_TIMES: ContextVar[dict[str, datetime] | None] = ContextVar("level_times", default=None)


@contextmanager
def level_times() -> Iterator[dict[str, datetime]]:
    """Collect the times of the levels read inside the block (awaited in this task)."""
    times: dict[str, datetime] = {}
    token = _LEVEL_TIMES.set(times)
    try:
        yield times
    finally:
        _LEVEL_TIMES.reset(token)


def note_level_time(key: str, changed_at: datetime) -> None:
    """A connector read `key`'s level, last changed at the channel at `changed_at`."""
    times = _LEVEL_TIMES.get()
    if times is not None:
        times[key] = max(changed_at, times.get(key, changed_at))


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One poll of a channel's orders: sales and restocks as inbound messages (keyed by
    the platform's own order and line ids, the same keys its webhook parser uses, so an
    order seen both ways counts once) and the cursor to pass to the next poll."""

    messages: list[InboundMessage]
    cursor: str
    more: bool = False  # another page is ready at once (poll again without waiting)


class ChannelError(Exception):
    pass


class RateLimited(ChannelError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ChannelError):
    pass


class Rejected(ChannelError):
    def __init__(self, message: str, details: object = None) -> None:
        super().__init__(message)
        self.details = details


class ChannelConnector(Protocol):
    """What every connector does. Optional capabilities are the protocols below, tested
    with isinstance; platform facts are class attributes (channels/facts.py)."""

    kind: ClassVar[str]
    max_batch: ClassVar[int]

    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport: ...

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]: ...


@runtime_checkable
class DiscoversMapping(Protocol):
    """A connector that addresses items by the platform's own ids (`mapping`: sku -> id,
    stored under the class's `mapping_field`) and can look SKUs up on the platform: all
    of them (None) or the given ones. Records what it found in `mapping` and returns it."""

    mapping: dict[str, str]

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]: ...


@runtime_checkable
class PollsOrders(Protocol):
    """A connector that can list the channel's orders changed since a cursor.

    The first cursor a channel gets is the ISO-8601 UTC time the channel was created
    (orders before it are already in the stock the merchant entered). Later cursors are
    whatever the previous page returned: opaque to the caller. A connector re-reads a
    short overlap itself where the platform is eventually consistent; repeated lines are
    harmless because every message is keyed by the platform's ids."""

    order_poll_seconds: ClassVar[float]  # default interval, within the platform's limits

    async def poll_orders(self, cursor: str) -> OrderPage: ...


@runtime_checkable
class FetchesOrders(Protocol):
    """A connector that can read whole orders by id: for webhooks that only name an order
    (Square's order.created, eBay's notifications): `OrderNotice` messages."""

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]: ...


@runtime_checkable
class ReadsOrderSummaries(Protocol):
    """A connector that can count an order from the summary its notification carried
    (`OrderNotice.summary`), saving the read: None when the summary is not enough."""

    def orders_from_summary(self, order_id: str, summary: Mapping[str, Any]
                            ) -> list[InboundMessage] | None: ...


@runtime_checkable
class ChecksCredentials(Protocol):
    """A connector that can ask the platform, with its cheapest authenticated read, whether
    it accepts the channel's credentials: before a channel is stored, or its credentials
    or settings changed, so a wrong token is refused at once instead of failing later.

    Raises `Rejected` when the platform refuses them (wrong, revoked, missing a scope the
    connector needs), `Unavailable` or `RateLimited` when it cannot tell right now."""

    async def check_credentials(self) -> None: ...
