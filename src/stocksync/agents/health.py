"""Channel health as agents read it: state and lag (one definition, shared with the API,
the metric and the alerts) and whether what the channel shows is fresh enough."""

from __future__ import annotations

from typing import Any

from stocksync.agents.freshness import channel_fresh, ledger_freshness
from stocksync.api.routes.channel_views import channel_out
from stocksync.app.service import Stocksync
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tenants import log_head


def channel_health(svc: Stocksync, tenant_id: str) -> dict[str, Any]:
    threshold = svc.settings.agent_fresh_seconds
    now = svc.clock()
    with svc.uow(tenant_id, write=False) as uow:
        head = log_head(uow.conn, tenant_id)
        shown = [channel_out(uow, c, now, with_status=True,
                             degraded_after=svc.settings.alert_lag_seconds)
                 for c in SqlChannels(uow.conn, tenant_id).list()]
    rows = []
    for out in shown:
        status = out.status
        assert status is not None
        rows.append({"channel": out.code, "kind": out.kind, "enabled": out.enabled,
                     "state": status.state, "lag_seconds": round(status.lag_seconds, 3),
                     "fresh": out.enabled and channel_fresh(0.0, status.lag_seconds,
                                                            threshold),
                     "pending": status.pending, "held": status.held, "parked": status.parked,
                     "last_push_at": status.last_push_at.isoformat()
                     if status.last_push_at else None,
                     "last_error": status.last_error if not status.recovered else None})
    freshness = ledger_freshness(now, head, svc.clock(), threshold)
    return {**freshness.as_json(), "fresh_threshold_seconds": threshold, "channels": rows}
