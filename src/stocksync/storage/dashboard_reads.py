"""Read-only queries the dashboard needs and no other port offers: one tenant's alerts,
webhook counts, event rate, active holds of a SKU and reconciliation history.

Every query is bounded (by an index range or a LIMIT), so the overview stays fast with
tens of thousands of items and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from stocksync.storage.connections import previewed_channels
from stocksync.storage.tables import (
    alerts,
    events,
    inbox,
    item_barcodes,
    reconciliations,
    reservations,
)

# The events-per-minute count looks at this many newest events at most (a primary-key
# range, not a scan of the whole log): more than this in a minute is shown as "at least".
RATE_WINDOW_EVENTS = 5000


def tenant_alerts(engine: Engine, tenant_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """Active alerts first, then the most recently started ones (the digest marker is not an
    alert)."""
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(
            alerts.c.tenant_id == tenant_id, alerts.c.rule != "digest")
            .order_by(alerts.c.active.desc(), alerts.c.started_at.desc()).limit(limit))
        return [{"rule": r.rule, "subject": r.subject, "active": bool(r.active),
                 "value": r.value, "message": r.message, "started_at": r.started_at,
                 "cleared_at": r.cleared_at} for r in rows]


def inbox_counts(engine: Engine, tenant_id: str, since: datetime) -> dict[str, int]:
    """Webhook deliveries stored since `since`, by status (pending, done, failed,
    dismissed), and `failed_total`: the dead letters waiting whatever their age."""
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.status, func.count()).where(
            inbox.c.tenant_id == tenant_id, inbox.c.received_at >= since)
            .group_by(inbox.c.status))
        found = {str(status): int(n) for status, n in rows}
        found["failed_total"] = int(conn.execute(select(func.count()).where(
            inbox.c.tenant_id == tenant_id, inbox.c.status == "failed")).scalar() or 0)
    return found


def events_since(engine: Engine, tenant_id: str, since: datetime) -> tuple[int, bool]:
    """How many events the tenant recorded since `since`, and whether the count hit the
    window (then it is a lower bound)."""
    with engine.connect() as conn:
        head = conn.execute(select(func.max(events.c.sequence))
                            .where(events.c.tenant_id == tenant_id)).scalar()
        if head is None:
            return 0, False
        n = int(conn.execute(select(func.count()).where(
            events.c.tenant_id == tenant_id,
            events.c.sequence > int(head) - RATE_WINDOW_EVENTS,
            events.c.recorded_at >= since)).scalar() or 0)
    return n, n >= RATE_WINDOW_EVENTS


def active_holds(engine: Engine, tenant_id: str, sku: str,
                 limit: int = 100) -> list[dict[str, Any]]:
    """The SKU's reservations still holding stock (newest first)."""
    with engine.connect() as conn:
        rows = conn.execute(select(reservations).where(
            reservations.c.tenant_id == tenant_id, reservations.c.sku == sku,
            reservations.c.status == "active")
            .order_by(reservations.c.created_at.desc()).limit(limit))
        return [{"id": r.id, "location": r.location, "quantity": int(r.quantity),
                 "kind": r.kind, "reference": r.reference, "expires_at": r.expires_at,
                 "created_at": r.created_at} for r in rows]


def reconcile_history(engine: Engine, tenant_id: str, channel: str | None = None,
                      limit: int = 50) -> list[dict[str, Any]]:
    """Past reconciliations, newest first, without their findings (open one for those)."""
    stmt = select(reconciliations.c.id, reconciliations.c.channel, reconciliations.c.mode,
                  reconciliations.c.started_at, reconciliations.c.finished_at,
                  reconciliations.c.compared, reconciliations.c.drift_rate,
                  reconciliations.c.applied, reconciliations.c.error).where(
        reconciliations.c.tenant_id == tenant_id)
    if channel is not None:
        stmt = stmt.where(reconciliations.c.channel == channel)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(reconciliations.c.started_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def sku_for_barcode(engine: Engine, tenant_id: str, barcode: str) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(select(item_barcodes.c.sku).where(
            item_barcodes.c.tenant_id == tenant_id,
            item_barcodes.c.barcode == barcode)).scalar()
    return str(found) if found is not None else None


def movements_before(engine: Engine, tenant_id: str, sku: str | None, before: int | None,
                     limit: int) -> list[dict[str, Any]]:
    """The newest movements (of one SKU, or all), below `before`, newest first, with who
    made each and the balance after it (the primary key, or the index on tenant, sku,
    sequence, serves it)."""
    stmt = select(events.c.sku, events.c.sequence, events.c.type, events.c.location,
                  events.c.quantity, events.c.on_hand_after, events.c.reserved_after,
                  events.c.source, events.c.actor, events.c.origin, events.c.correlation_id,
                  events.c.recorded_at).where(events.c.tenant_id == tenant_id)
    if sku is not None:
        stmt = stmt.where(events.c.sku == sku)
    if before is not None:
        stmt = stmt.where(events.c.sequence < before)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(events.c.sequence.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def latest_drift(engine: Engine, tenant_id: str) -> dict[str, tuple[float, datetime]]:
    """Per channel: the drift rate of its newest reconciliation, and when it started (one
    query for all channels)."""
    r = reconciliations.c
    newest = select(r.channel, func.max(r.started_at).label("at")).where(
        r.tenant_id == tenant_id).group_by(r.channel).subquery()
    with engine.connect() as conn:
        rows = conn.execute(select(r.channel, r.drift_rate, r.started_at).join(
            newest, (r.channel == newest.c.channel) & (r.started_at == newest.c.at))
            .where(r.tenant_id == tenant_id))
        return {row.channel: (float(row.drift_rate), row.started_at) for row in rows}


class SqlDashboardReads:
    """app.dashboard.DashboardReads over an engine: each query in its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def tenant_alerts(self, tenant_id: str, limit: int) -> list[dict[str, Any]]:
        return tenant_alerts(self.engine, tenant_id, limit)

    def inbox_counts(self, tenant_id: str, since: datetime) -> dict[str, int]:
        return inbox_counts(self.engine, tenant_id, since)

    def events_since(self, tenant_id: str, since: datetime) -> tuple[int, bool]:
        return events_since(self.engine, tenant_id, since)

    def active_holds(self, tenant_id: str, sku: str) -> list[dict[str, Any]]:
        return active_holds(self.engine, tenant_id, sku)

    def reconcile_history(self, tenant_id: str, channel: str | None,
                          limit: int) -> list[dict[str, Any]]:
        return reconcile_history(self.engine, tenant_id, channel, limit)

    def sku_for_barcode(self, tenant_id: str, barcode: str) -> str | None:
        return sku_for_barcode(self.engine, tenant_id, barcode)

    def movements_before(self, tenant_id: str, sku: str | None, before: int | None,
                         limit: int) -> list[dict[str, Any]]:
        return movements_before(self.engine, tenant_id, sku, before, limit)

    def latest_drift(self, tenant_id: str) -> dict[str, tuple[float, datetime]]:
        return latest_drift(self.engine, tenant_id)

    def previewed(self, tenant_id: str) -> set[str]:
        with self.engine.connect() as conn:
            return {code for tenant, code in previewed_channels(conn) if tenant == tenant_id}
