"""What the dashboard shows beyond the API's own views: alerts, webhook and event rates,
a SKU's holds, reconciliation history and each channel's remaining call budget.

Reads only; each function answers for one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync


class DashboardReads(Protocol):
    """The bounded read-only queries the dashboard needs and no other port offers
    (storage/dashboard_reads.py)."""

    def tenant_alerts(self, tenant_id: str, limit: int) -> list[dict[str, Any]]: ...

    def inbox_counts(self, tenant_id: str, since: datetime) -> dict[str, int]: ...

    def events_since(self, tenant_id: str, since: datetime) -> tuple[int, bool]: ...

    def active_holds(self, tenant_id: str, sku: str) -> list[dict[str, Any]]: ...

    def reconcile_history(self, tenant_id: str, channel: str | None,
                          limit: int) -> list[dict[str, Any]]: ...

    def sku_for_barcode(self, tenant_id: str, barcode: str) -> str | None: ...

    def movements_before(self, tenant_id: str, sku: str | None, before: int | None,
                         limit: int) -> list[dict[str, Any]]: ...

    def latest_drift(self, tenant_id: str) -> dict[str, tuple[float, datetime]]: ...

    def previewed(self, tenant_id: str) -> set[str]: ...


def _reads(svc: Stocksync) -> DashboardReads:
    if svc.dashboard_reads is None:
        raise RuntimeError("the dashboard needs its read model: this service has none")
    return svc.dashboard_reads

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
    reads = _reads(svc)
    per_minute, at_least = reads.events_since(tenant_id, now - timedelta(minutes=1))
    counts = reads.inbox_counts(tenant_id, now - WEBHOOK_WINDOW)
    accepted = sum(n for status, n in counts.items() if status != "failed_total")
    return Activity(per_minute, at_least, accepted, counts.get("done", 0),
                    counts["failed_total"])


def alerts(svc: Stocksync, tenant_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return _reads(svc).tenant_alerts(tenant_id, limit)


def holds(svc: Stocksync, tenant_id: str, sku: str) -> list[dict[str, Any]]:
    return _reads(svc).active_holds(tenant_id, sku)


def sku_for_barcode(svc: Stocksync, tenant_id: str, barcode: str) -> str | None:
    return _reads(svc).sku_for_barcode(tenant_id, barcode)


def movements(svc: Stocksync, tenant_id: str, sku: str | None, before: int | None,
              limit: int = 50) -> list[dict[str, Any]]:
    """Newest first (of one SKU, or every SKU); each with the running balance (on hand,
    reserved, available) after it."""
    rows = _reads(svc).movements_before(tenant_id, sku, before, limit)
    for row in rows:
        on_hand, reserved = row["on_hand_after"], row["reserved_after"]
        row["available"] = on_hand - reserved if on_hand is not None and \
            reserved is not None else None
    return rows


def latest_drift(svc: Stocksync, tenant_id: str) -> dict[str, tuple[float, datetime]]:
    """Each channel's drift at its last reconciliation, and when that ran."""
    return _reads(svc).latest_drift(tenant_id)


def in_preview(svc: Stocksync, tenant_id: str) -> set[str]:
    """The tenant's channels waiting for their preview to be confirmed (connect/)."""
    return _reads(svc).previewed(tenant_id)


def reconcile_history(svc: Stocksync, tenant_id: str, channel: str | None = None,
                      limit: int = 50) -> list[dict[str, Any]]:
    return _reads(svc).reconcile_history(tenant_id, channel, limit)


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
