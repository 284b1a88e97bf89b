"""Scheduled reconciliation: each channel is compared with the ledger every
`reconcile_every_minutes` (channel setting; default STOCKSYNC_RECONCILE_MINUTES, 60).
A dry run unless the channel's setting `reconcile` is `apply`."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import anyio
import httpx
import structlog

from stocksync.app.connect import connect
from stocksync.app.reconcile import latest_report, reconcile
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.core.channels import Channel

log = structlog.get_logger()
CHECK_SECONDS = 30.0


class ReconcileScheduler:
    def __init__(self, svc: Stocksync) -> None:
        self.svc = svc

    def _due(self) -> list[Channel]:
        now = self.svc.clock()
        channels = [c for c in self.svc.admin.enabled_channels()
                    if c.kind in registry.PUSHED]
        due = []
        for channel in channels:
            minutes = float(channel.settings.get("reconcile_every_minutes",
                                                 self.svc.settings.reconcile_minutes))
            last = latest_report(self.svc, channel.tenant_id, channel.code)
            # A new (or just changed) channel waits a full interval: its first push is
            # still under way, and comparing now would only report that as drift.
            since: datetime | None = last["started_at"] if last else channel.updated_at
            if minutes > 0 and (since is None or now - since >= timedelta(minutes=minutes)):
                due.append(channel)
        return due

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while True:
                try:
                    for channel in await anyio.to_thread.run_sync(self._due):
                        connector = await anyio.to_thread.run_sync(
                            connect, self.svc, channel, client)
                        report = await reconcile(
                            self.svc, channel, connector,
                            apply=channel.settings.get("reconcile") == "apply",
                            full_catalog=channel.settings.get("reconcile_full") == "true")
                        log.info("reconciled", tenant=channel.tenant_id,
                                 channel=channel.code, drift_rate=report.drift_rate,
                                 mismatches=len(report.mismatches), error=report.error)
                except Exception:  # the outer loop: log and try again later
                    log.exception("reconcile_scheduler_failed")
                await asyncio.sleep(CHECK_SECONDS)
