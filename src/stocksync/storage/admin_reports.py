"""SqlAdmin: the store-admin port in full (implements app.ports.StoreAdmin):
SqlStoreAdmin's housekeeping plus the reconciliation reports (storage/reconciliations.py).
(Kept apart from storage/admin.py only while that module is being changed elsewhere.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksync.storage import reconciliations
from stocksync.storage.admin import SqlStoreAdmin


class SqlAdmin(SqlStoreAdmin):
    def save_report(self, report: Mapping[str, Any]) -> None:
        reconciliations.save_report(self.engine, report)

    def load_report(self, tenant_id: str, report_id: str) -> dict[str, Any] | None:
        return reconciliations.load_report(self.engine, tenant_id, report_id)

    def latest_report(self, tenant_id: str, channel: str) -> dict[str, Any] | None:
        return reconciliations.latest(self.engine, tenant_id, channel)
