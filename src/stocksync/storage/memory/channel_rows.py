"""A channel's row and its per-SKU rows, as the memory store keeps them (the same fields
as the SQL tables, so `Channels.page` rows read alike)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from stocksync.app.records import SkuTarget
from stocksync.core.channels import Channel


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: Channel
    credentials: str | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_push_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    order_cursor: str | None = None
    order_polled_at: datetime | None = None
    order_poll_error: str | None = None
    order_poll_error_at: datetime | None = None
    webhooks_refused: int = 0
    webhook_refused_at: datetime | None = None

    def with_channel(self, **changes: object) -> ChannelRow:
        return replace(self, channel=replace(self.channel, **changes))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SkuRow:
    sku: str
    external_ids: dict[str, str] = field(default_factory=dict)
    wanted: int | None = None
    wanted_sequence: int | None = None
    pending_since: datetime | None = None
    pushed: int | None = None
    pushed_at: datetime | None = None
    sending: int | None = None
    unconfirmed: tuple[int, ...] = ()  # values of failed pushes since the last ack
    observed_at: datetime | None = None
    channel_moves: int = 0
    unexplained: int = 0
    channel_changed_at: datetime | None = None
    level_at: datetime | None = None
    correlation_id: str | None = None
    revisions: int = 0
    revisions_day: datetime | None = None
    last_revision_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    parked_reason: str | None = None

    def target(self) -> SkuTarget:
        return SkuTarget(
            sku=self.sku, wanted=self.wanted, pushed=self.pushed,
            pending_since=self.pending_since, external_ids=dict(self.external_ids),
            sending=self.sending, unconfirmed=self.unconfirmed, observed_at=self.observed_at,
            correlation_id=self.correlation_id, revisions=self.revisions,
            revisions_day=self.revisions_day, last_revision_at=self.last_revision_at,
            channel_moves=self.channel_moves, unexplained=self.unexplained,
            channel_changed_at=self.channel_changed_at, level_at=self.level_at)
