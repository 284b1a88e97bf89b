"""Stored reconciliation reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, insert, select

from stocksync.storage.engine import WRITE
from stocksync.storage.tables import reconciliations


def save_report(engine: Engine, row: Mapping[str, Any]) -> None:
    """`row`: the reconciliations columns (the findings as JSON under `report`)."""
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(insert(reconciliations).values(**row))


def _out(row: Any) -> dict[str, Any]:
    r = row._mapping
    return {"id": r["id"], "channel": r["channel"], "mode": r["mode"],
            "started_at": r["started_at"], "finished_at": r["finished_at"],
            "compared": r["compared"], "drift_rate": r["drift_rate"], "applied": r["applied"],
            "error": r["error"], **r["report"]}


def load_report(engine: Engine, tenant_id: str, report_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(reconciliations).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.id == report_id)).first()
    return _out(row) if row else None


def latest(engine: Engine, tenant_id: str, channel: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(reconciliations).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.channel == channel)
            .order_by(reconciliations.c.started_at.desc()).limit(1)).first()
    return _out(row) if row else None
