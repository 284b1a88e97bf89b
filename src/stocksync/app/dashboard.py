"""What the dashboard shows beyond the API's own views: alerts, webhook and event rates,
a SKU's holds, reconciliation history and each channel's remaining call budget.

Reads only; each function answers for one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stocksync.app.service import Stocksync
from stocksync.storage import connections
from stocksync.storage import dashboard_reads as reads

WEBHOOK_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Activity:
    events_per_minute: int
    events_at_least: bool  # the count reached the window: at least this many
    webhooks_accepted: int  # stored in the last 24 h (pending, applied, failed, dismissed)
    webhooks_applied: int
    dead_letters: int  # failed deliveries waiting in the inbox, whatever their age


def activity(svc: Stocksync, tenant_id: str) -> Activity:
    now = svc.clock()
    per_minute, at_least = reads.events_since(svc.engine, tenant_id, reads.minute_ago(now))
    counts = reads.inbox_counts(svc.engine, tenant_id, now - WEBHOOK_WINDOW)
    accepted = sum(n for status, n in counts.items() if status != "failed_total")
    return Activity(per_minute, at_least, accepted, counts.get("done", 0),
                    counts["failed_total"])


def alerts(svc: Stocksync, tenant_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return reads.tenant_alerts(svc.engine, tenant_id, limit)


def holds(svc: Stocksync, tenant_id: str, sku: str) -> list[dict[str, Any]]:
    return reads.active_holds(svc.engine, tenant_id, sku)


def sku_for_barcode(svc: Stocksync, tenant_id: str, barcode: str) -> str | None:
    return reads.sku_for_barcode(svc.engine, tenant_id, barcode)


def movements(svc: Stocksync, tenant_id: str, sku: str | None, before: int | None,
              limit: int = 50) -> list[dict[str, Any]]:
    """Newest first (of one SKU, or every SKU); each with the running balance (on hand,
    reserved, available) after it."""
    rows = reads.movements_before(svc.engine, tenant_id, sku, before, limit)
    for row in rows:
        on_hand, reserved = row["on_hand_after"], row["reserved_after"]
        row["available"] = on_hand - reserved if on_hand is not None and \
            reserved is not None else None
    return rows


def latest_drift(svc: Stocksync, tenant_id: str) -> dict[str, tuple[float, datetime]]:
    """Each channel's drift at its last reconciliation, and when that ran."""
    return reads.latest_drift(svc.engine, tenant_id)


def in_preview(svc: Stocksync, tenant_id: str) -> set[str]:
    """The tenant's channels waiting for their preview to be confirmed (connect/)."""
    with svc.engine.connect() as conn:
        return {code for tenant, code in connections.previewed_channels(conn)
                if tenant == tenant_id}


def reconcile_history(svc: Stocksync, tenant_id: str, channel: str | None = None,
                      limit: int = 50) -> list[dict[str, Any]]:
    return reads.reconcile_history(svc.engine, tenant_id, channel, limit)


def budget_left(svc: Stocksync, tenant_id: str, code: str) -> str | None:
    """The platform call budget this process last saw for the channel ("430 / 1000
    points"), or None when unknown: no call made yet, or a platform without a
    published budget. Read from the connector the workers share (app/connect.py)."""
    cached = svc.connectors.get((tenant_id, code))
    if cached is None:
        return None
    pacer = getattr(cached[1], "pacer", None)
    current = getattr(pacer, "current", None)
    if callable(current):  # Shopify: GraphQL cost points, restored over time
        points = current()
        if isinstance(points, int | float):
            return f"{points:.0f} / {pacer.maximum_available:.0f} points"  # type: ignore[union-attr]
    remaining, limit = getattr(pacer, "remaining", None), getattr(pacer, "limit", None)
    if isinstance(remaining, int):  # WooCommerce: RateLimit-Remaining of the window
        return f"{remaining} / {limit} calls" if isinstance(limit, int) else f"{remaining} calls"
    return None
