"""Stored reconciliation reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from stocksync.api.deps import Svc, Who
from stocksync.app.reconcile import load_report
from stocksync.core.errors import NotFound

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"])


@router.get("/{report_id}")
def get_reconciliation(report_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    report = load_report(svc, who.tenant_id, report_id)
    if report is None:
        raise NotFound(f"no reconciliation {report_id}", reconciliation_id=report_id)
    return report
