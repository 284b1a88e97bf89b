"""A channel: one sales destination and its rules (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stocksync.core.channel_rules import ChannelRules


class ChannelKind(StrEnum):
    SHOPIFY = "shopify"
    GENERIC_HTTP = "generic_http"
    POS = "pos"  # a till: it tells stocksync what it sold (webhooks), nothing is pushed
    WOOCOMMERCE = "woocommerce"
    SQUARE = "square"
    EBAY = "ebay"
    AMAZON = "amazon"


# Kinds stocksync never pushes to (channels/registry.PUSHED is every other kind): they have
# no lag, only what they send stocksync.
RECEIVE_ONLY = frozenset({ChannelKind.POS})

CODE_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


@dataclass(frozen=True, slots=True)
class Channel:
    tenant_id: str
    code: str
    kind: ChannelKind
    name: str
    rules: ChannelRules
    settings: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    cursor: int = 0
    updated_at: datetime | None = None
    webhook_id: str | None = None
    created_at: datetime | None = None


class ChannelState(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"  # behind by more than the lag threshold, or webhooks refused
    FAILING = "failing"  # its pushes or order reads fail now
    PAUSED = "paused"  # disabled by the merchant
    PREVIEW = "preview"  # new, not pushed until the merchant confirms its dry run


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """What a channel's health is made of. Lag has one definition, used by the API, the
    metric and the alert alike: see `lag_since`."""

    cursor: int
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    pending: int  # SKUs the channel has not acknowledged yet (held and parked included)
    parked: int  # of them: refused by the channel, not retried until the SKU changes
    oldest_unprojected_at: datetime | None
    oldest_unpushed_at: datetime | None  # of the SKUs due now (neither held nor parked)
    orders_polled_at: datetime | None = None  # the last order poll that succeeded
    orders_error: str | None = None  # the last order poll's error, if it failed since
    orders_error_at: datetime | None = None
    held: int = 0  # of them: waiting on purpose (revision budget, platform confirmation)
    # Since when the oldest change the channel should show, and is not deliberately held
    # or parked, has been waiting: the oldest event not projected yet or SKU due now, but
    # never before the channel's configuration last changed (a new channel first catches
    # up on older history; that is not lag). None: nothing waits, or nothing is pushed.
    lag_since: datetime | None = None
    enabled: bool = True
    receives_pushes: bool = True  # False for a till: it only sends stocksync its sales
    webhooks_refused: int = 0  # deliveries refused for a wrong signature, in all
    webhook_refused_at: datetime | None = None
    webhooks_refused_since_accepted: bool = False  # none accepted after the last refusal
    created_at: datetime | None = None

    def lag_seconds(self, now: datetime) -> float:
        return max((now - self.lag_since).total_seconds(), 0.0) if self.lag_since else 0.0

    @property
    def recovered(self) -> bool:
        """The last error is history: a push succeeded after it."""
        return self.last_error_at is not None and self.last_push_at is not None and \
            self.last_push_at > self.last_error_at and self.failing_since is None

    def state(self, now: datetime, degraded_after_seconds: float) -> ChannelState:
        if not self.enabled:
            return ChannelState.PAUSED
        if self.failing_since is not None or self.orders_error is not None:
            return ChannelState.FAILING
        if self.lag_seconds(now) > degraded_after_seconds or \
                self.webhooks_refused_since_accepted:
            return ChannelState.DEGRADED
        return ChannelState.HEALTHY
