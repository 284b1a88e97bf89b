"""A channel's health from its memory rows: the same definitions as
storage/channel_health.py (lag, held, parked, refused webhook signatures)."""

from __future__ import annotations

from datetime import datetime

from stocksync.core.channels import RECEIVE_ONLY, ChannelStatus
from stocksync.storage.channel_health import _lag_since as lag_since  # one definition
from stocksync.storage.memory.channel_rows import ChannelRow, SkuRow
from stocksync.storage.memory.store import Tx


def channel_status(tx: Tx, row: ChannelRow, skus: list[SkuRow], cursor: int,
                   now: datetime) -> ChannelStatus:
    channel = row.channel
    pushed = channel.kind not in RECEIVE_ONLY
    pending = [r for r in skus if r.pending_since is not None]
    waiting = [r for r in pending if r.parked_reason is None]
    held = [r for r in waiting if r.next_attempt_at is not None and r.next_attempt_at > now]
    due = [r for r in waiting if r.next_attempt_at is None or r.next_attempt_at <= now]
    # A SKU whose hold ran out waits from the end of its hold, not from its first change.
    oldest_due = min((r.next_attempt_at if r.next_attempt_at is not None
                      and r.pending_since is not None and r.next_attempt_at > r.pending_since
                      else r.pending_since for r in due), default=None)
    unprojected = None
    if pushed:
        log = tx.read("events").get(channel.tenant_id, ())
        unprojected = log[cursor].recorded_at if 0 <= cursor < len(log) else None
    configured_at = channel.updated_at or channel.created_at
    assert configured_at is not None
    refused_at = row.webhook_refused_at
    return ChannelStatus(
        cursor=cursor, last_push_at=row.last_push_at, last_error=row.last_error,
        last_error_at=row.last_error_at, failing_since=row.failing_since,
        pending=len(pending), parked=len(pending) - len(waiting), held=len(held),
        oldest_unprojected_at=unprojected, oldest_unpushed_at=oldest_due,
        orders_polled_at=row.order_polled_at, orders_error=row.order_poll_error,
        orders_error_at=row.order_poll_error_at,
        lag_since=lag_since(pushed, unprojected, oldest_due, configured_at),
        enabled=channel.enabled, receives_pushes=pushed, created_at=channel.created_at,
        webhooks_refused=row.webhooks_refused, webhook_refused_at=refused_at,
        webhooks_refused_since_accepted=refused_at is not None and not any(
            d.tenant_id == channel.tenant_id and d.channel == channel.code
            and d.kind == channel.kind.value and d.received_at > refused_at
            for d in (e.delivery for e in tx.read("inbox").values())))

