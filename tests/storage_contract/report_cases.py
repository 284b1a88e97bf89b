"""Reconciliation report cases: a report is kept per tenant and read back with its
findings spread in; the latest one per channel is the one started last."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.storage_contract.base import StorageContract


class ReportCases(StorageContract):
    def report(self, report_id: str, channel: str = "shop", minutes: int = 0) -> dict[str, Any]:
        started = self.clock() + timedelta(minutes=minutes)
        return {"id": report_id, "tenant_id": self.tenant, "channel": channel,
                "mode": "dry_run", "started_at": started,
                "finished_at": started + timedelta(seconds=3), "compared": 10,
                "drift_rate": 0.2, "applied": 0, "error": None,
                "report": {"mismatches": [{"sku": "A", "expected": 3, "actual": 2}],
                           "status_mismatches": [], "missing": ["B"], "untracked": []}}

    def test_a_report_is_kept_and_read_back_with_its_findings(self) -> None:
        self.svc.admin.save_report(self.report("r-1"))
        found = self.svc.admin.load_report(self.tenant, "r-1")
        assert found is not None
        assert (found["id"], found["channel"], found["mode"], found["compared"],
                found["drift_rate"], found["error"], found["started_at"]) == \
            ("r-1", "shop", "dry_run", 10, 0.2, None, self.clock())
        assert found["mismatches"] == [{"sku": "A", "expected": 3, "actual": 2}]
        assert found["missing"] == ["B"]
        assert self.svc.admin.load_report(self.new_tenant(), "r-1") is None
        assert self.svc.admin.load_report(self.tenant, "r-2") is None

    def test_the_latest_report_of_a_channel_is_the_one_started_last(self) -> None:
        assert self.svc.admin.latest_report(self.tenant, "shop") is None
        self.svc.admin.save_report(self.report("r-2", minutes=5))
        self.svc.admin.save_report(self.report("r-1"))
        self.svc.admin.save_report(self.report("r-3", channel="pos", minutes=9))
        latest = self.svc.admin.latest_report(self.tenant, "shop")
        assert latest is not None and latest["id"] == "r-2"
