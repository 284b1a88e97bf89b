"""The overview's facts, built once for the page, its live fragments and GET /api/status.

Channels come from the same code as GET /v1/channels (state, lag, pending, parked, last
push, last error); the rest from app/dashboard.py."""

from __future__ import annotations

from typing import Any

from stocksync.api.deps import Caller
from stocksync.api.routes.channels import list_channels
from stocksync.app import dashboard
from stocksync.app.service import Stocksync

LATEST = 8  # movements shown on the overview


def channel_cards(svc: Stocksync, who: Caller) -> list[dict[str, Any]]:
    cards = []
    drift = dashboard.latest_drift(svc, who.tenant_id)
    previewed = dashboard.in_preview(svc, who.tenant_id)
    for channel in list_channels(svc, who):
        status = channel.status
        assert status is not None
        last = drift.get(channel.code)
        cards.append({
            "code": channel.code, "kind": channel.kind, "name": channel.name,
            "enabled": channel.enabled,
            "state": "preview" if channel.code in previewed else status.state,
            "lag_seconds": status.lag_seconds, "pending": status.pending,
            "held": status.held, "parked": status.parked,
            "last_push_at": status.last_push_at, "last_error": status.last_error,
            "last_error_at": status.last_error_at, "recovered": status.recovered,
            "webhooks_refused": status.webhooks_refused,
            "drift_at_last_reconcile": last[0] if last else None,
            "last_reconcile_at": last[1] if last else None,
            "budget_left": dashboard.budget_left(svc, who.tenant_id, channel.code),
        })
    return cards


def status(svc: Stocksync, who: Caller) -> dict[str, Any]:
    cards = channel_cards(svc, who)
    act = dashboard.activity(svc, who.tenant_id)
    return {
        "tenant": who.tenant_id,
        "at": svc.clock(),
        "channels": cards,
        "channels_by_state": {state: sum(1 for c in cards if c["state"] == state)
                              for state in ("healthy", "degraded", "failing", "paused",
                                            "preview")},
        "events_per_minute": act.events_per_minute,
        "events_per_minute_at_least": act.events_at_least,
        "webhooks": {"accepted_24h": act.webhooks_accepted,
                     "applied_24h": act.webhooks_applied,
                     "refused_total": sum(c["webhooks_refused"] for c in cards)},
        "dead_letters": act.dead_letters,
        "alerts": dashboard.alerts(svc, who.tenant_id),
        "latest_movements": dashboard.movements(svc, who.tenant_id, None, None, LATEST),
    }
