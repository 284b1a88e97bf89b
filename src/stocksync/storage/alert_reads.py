"""What the alert rules read (app.alerts.AlertReads), over one connection: the alert worker
reads and records its alerts in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from stocksync.app.alerts import Reconciled
from stocksync.core.channels import ChannelStatus
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tables import (
    alerts,
    channel_skus,
    channels,
    events,
    inbox,
    reconciliations,
    stock_levels,
)


class SqlAlertReads:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def channel_statuses(self, now: datetime) -> list[tuple[str, str, ChannelStatus]]:
        rows = self.conn.execute(select(channels.c.tenant_id, channels.c.code,
                                        channels.c.cursor))
        return [(r.tenant_id, r.code,
                 SqlChannels(self.conn, r.tenant_id).status(r.code, int(r.cursor), now))
                for r in rows]

    def stock_totals(self) -> dict[str, tuple[int, int]]:
        rows = self.conn.execute(select(stock_levels.c.tenant_id,
                                        func.sum(stock_levels.c.reserved),
                                        func.sum(stock_levels.c.on_hand))
                                 .group_by(stock_levels.c.tenant_id))
        return {t: (int(r or 0), int(o or 0)) for t, r, o in rows}

    def failed_deliveries(self) -> dict[str, int]:
        rows = self.conn.execute(select(inbox.c.tenant_id, func.count())
                                 .where(inbox.c.status == "failed")
                                 .group_by(inbox.c.tenant_id))
        return {t: int(n) for t, n in rows}

    def last_reconciliation(self, tenant_id: str, code: str) -> Reconciled | None:
        last = self.conn.execute(select(
            reconciliations.c.drift_rate, reconciliations.c.compared,
            reconciliations.c.applied).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.channel == code)
            .order_by(reconciliations.c.started_at.desc()).limit(1)).first()
        if last is None:
            return None
        return Reconciled(float(last.drift_rate), int(last.compared or 0),
                          int(last.applied or 0))

    def events_by_type(self, tenant_id: str, since: datetime) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.execute(
            select(events.c.type, func.count()).where(
                events.c.tenant_id == tenant_id, events.c.recorded_at >= since)
            .group_by(events.c.type)).all()}

    def pushes_since(self, tenant_id: str, since: datetime) -> int:
        return int(self.conn.execute(select(func.count()).where(
            channel_skus.c.tenant_id == tenant_id, channel_skus.c.pushed_at >= since))
            .scalar() or 0)

    def reconcile_reports_since(self, tenant_id: str, since: datetime
                                ) -> list[dict[str, Any]]:
        return [row[0] for row in self.conn.execute(select(reconciliations.c.report).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.started_at >= since))]

    def alerts_raised_since(self, tenant_id: str, since: datetime) -> int:
        return int(self.conn.execute(select(func.count()).where(
            alerts.c.tenant_id == tenant_id, alerts.c.started_at >= since)).scalar() or 0)
