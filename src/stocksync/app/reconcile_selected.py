"""Apply a reconciliation to chosen SKUs only (the dashboard's "apply selected").

The values are read again now, not taken from the dry run the merchant looked at: stock
or the channel may have moved since, and a stale value pushed would be new drift."""

from __future__ import annotations

import uuid

import anyio.to_thread

from stocksync.app import reconcile as rc
from stocksync.app.service import Stocksync
from stocksync.channels.base import ChannelConnector, DiscoversMapping
from stocksync.core.channels import Channel


async def apply_selected(svc: Stocksync, channel: Channel, connector: ChannelConnector,
                         skus: set[str]) -> rc.ReconcileReport:
    """Compare the chosen SKUs and push the source value where they differ; stored as an
    `apply` report like a full run."""
    report = rc.ReconcileReport(str(uuid.uuid4()), channel.tenant_id, channel.code, "apply",
                                svc.clock())
    try:
        expected, deleted = await anyio.to_thread.run_sync(rc._expected, svc, channel)
        chosen = sorted(s for s in skus if s in expected)
        if isinstance(connector, DiscoversMapping):
            unmapped = [s for s in chosen if s not in connector.mapping]
            if unmapped:
                await connector.discover_mapping(unmapped)
        actual = await connector.fetch_quantities(chosen) if chosen else {}
        report.compared = len(actual)
        report.missing = [s for s in chosen if s not in actual and s not in deleted]
        for sku in chosen:
            if sku in actual and actual[sku] != expected[sku]:
                bucket = report.status_mismatches if sku in deleted else report.mismatches
                bucket.append(rc.Mismatch(sku, expected[sku], actual[sku]))
        report.applied = await rc._apply(svc, channel, connector,
                                         report.mismatches + report.status_mismatches)
    except Exception as exc:  # the report records why it stopped, like a full run
        report.error = f"{type(exc).__name__}: {exc}"
    report.finished_at = svc.clock()
    await anyio.to_thread.run_sync(rc.save_report, svc, report)
    return report
