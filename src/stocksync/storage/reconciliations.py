"""Stored reconciliation reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from stocksync.storage.engine import WRITE
from stocksync.storage.tables import reconciliations

if TYPE_CHECKING:
    from stocksync.app.reconcile import ReconcileReport
    from stocksync.app.service import Stocksync


def save_report(svc: Stocksync, report: ReconcileReport) -> None:
    data = report.as_json()
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(insert(reconciliations).values(
            id=report.id, tenant_id=report.tenant_id, channel=report.channel,
            mode=report.mode, started_at=report.started_at, finished_at=report.finished_at,
            compared=report.compared, drift_rate=report.drift_rate, applied=report.applied,
            report={k: data[k] for k in ("mismatches", "status_mismatches", "missing",
                                         "untracked")},
            error=report.error))


def _out(row: Any) -> dict[str, Any]:
    r = row._mapping
    return {"id": r["id"], "channel": r["channel"], "mode": r["mode"],
            "started_at": r["started_at"], "finished_at": r["finished_at"],
            "compared": r["compared"], "drift_rate": r["drift_rate"], "applied": r["applied"],
            "error": r["error"], **r["report"]}


def load_report(svc: Stocksync, tenant_id: str, report_id: str) -> dict[str, Any] | None:
    with svc.engine.connect() as conn:
        row = conn.execute(select(reconciliations).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.id == report_id)).first()
    return _out(row) if row else None


def latest(svc: Stocksync, tenant_id: str, channel: str) -> dict[str, Any] | None:
    with svc.engine.connect() as conn:
        row = conn.execute(select(reconciliations).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.channel == channel)
            .order_by(reconciliations.c.started_at.desc()).limit(1)).first()
    return _out(row) if row else None
