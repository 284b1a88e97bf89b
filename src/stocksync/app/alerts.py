"""Alerts: rules over the current state; one message when a condition starts and one when
it clears (the state is kept in the `alerts` table, so restarts and repeats send nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from stocksync.config import Settings
from stocksync.core.channels import ChannelState, ChannelStatus
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tables import channels, events, inbox, reconciliations, stock_levels


@dataclass(frozen=True, slots=True)
class Condition:
    tenant_id: str
    # channel_lag | drift | reservation_pressure | channel_failing | orders_failing |
    # dead_letters | webhooks_refused
    rule: str
    subject: str  # a channel code, or "*" for the tenant
    value: float
    message: str


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    tenant_id: str
    code: str
    status: ChannelStatus
    state: ChannelState
    lag: float


def channel_health(conn: Connection, settings: Settings, now: datetime) -> list[ChannelHealth]:
    """Every channel's status and state (the same numbers GET /v1/channels shows)."""
    found = []
    for row in conn.execute(select(channels.c.tenant_id, channels.c.code, channels.c.cursor)):
        status = SqlChannels(conn, row.tenant_id).status(row.code, int(row.cursor), now)
        found.append(ChannelHealth(row.tenant_id, row.code, status,
                                   status.state(now, settings.alert_lag_seconds),
                                   status.lag_seconds(now)))
    return found


def evaluate(conn: Connection, settings: Settings, now: datetime,
             health: list[ChannelHealth] | None = None) -> list[Condition]:
    """Every alert condition that holds now, across tenants. A paused (disabled) channel
    raises nothing; SKUs held on purpose or parked are not lag (see ChannelStatus)."""
    found: list[Condition] = []
    for seen in health if health is not None else channel_health(conn, settings, now):
        if seen.status.enabled:
            found += _channel_conditions(conn, settings, now, seen)
    pressure = conn.execute(select(stock_levels.c.tenant_id, func.sum(stock_levels.c.reserved),
                                   func.sum(stock_levels.c.on_hand))
                            .group_by(stock_levels.c.tenant_id))
    for tenant, reserved, on_hand in pressure:
        ratio = float(reserved or 0) / float(on_hand) if on_hand else 0.0
        if ratio > settings.alert_pressure_ratio:
            found.append(Condition(tenant, "reservation_pressure", "*", ratio,
                                   f"{ratio:.0%} of stock on hand is held by reservations"))
    dead = conn.execute(select(inbox.c.tenant_id, func.count()).where(inbox.c.status == "failed")
                        .group_by(inbox.c.tenant_id))
    for tenant, count in dead:
        found.append(Condition(tenant, "dead_letters", "*", float(count),
                               f"{count} webhook deliveries failed and wait in the inbox"))
    return found


def _channel_conditions(conn: Connection, settings: Settings, now: datetime,
                        seen: ChannelHealth) -> list[Condition]:
    tenant, code, status = seen.tenant_id, seen.code, seen.status
    found: list[Condition] = []
    if seen.lag > settings.alert_lag_seconds:
        why = f"; pushes fail: {(status.last_error or '')[:200]}" \
            if status.failing_since is not None else ""
        found.append(Condition(tenant, "channel_lag", code, seen.lag,
                               f"channel {code} is {seen.lag:.0f} s behind the ledger "
                               f"({status.pending - status.held - status.parked} SKUs "
                               f"due){why}"))
    if status.failing_since is not None:
        failing = (now - status.failing_since).total_seconds()
        if failing > settings.alert_failing_seconds:
            found.append(Condition(tenant, "channel_failing", code, failing,
                                   f"channel {code} has been failing for {failing:.0f} s: "
                                   f"{(status.last_error or '')[:200]}"))
    polled_ok = status.orders_polled_at or status.created_at
    if status.orders_error is not None and polled_ok is not None:
        failing = (now - polled_ok).total_seconds()
        if failing > settings.alert_failing_seconds:
            found.append(Condition(tenant, "orders_failing", code, failing,
                                   f"channel {code}: orders could not be read for "
                                   f"{failing:.0f} s: {status.orders_error[:200]}"))
    if status.webhooks_refused_since_accepted and status.webhook_refused_at is not None:
        found.append(Condition(
            tenant, "webhooks_refused", code, float(status.webhooks_refused),
            f"channel {code} refuses webhook deliveries: their signature does not match "
            f"the channel's secret (last at {status.webhook_refused_at:%Y-%m-%d %H:%M:%S} "
            f"UTC, {status.webhooks_refused} in all), so the orders in them are not counted. "
            "Check the webhook secret on the channel and on the platform"))
    drift = remaining_drift(conn, tenant, code)
    if drift is not None and drift > settings.alert_drift_ratio:
        found.append(Condition(tenant, "drift", code, drift,
                               f"channel {code} showed wrong quantities for "
                               f"{drift:.2%} of SKUs at the last reconciliation"))
    return found


def remaining_drift(conn: Connection, tenant_id: str, code: str) -> float | None:
    """The share of SKUs still wrong after the channel's last reconciliation: what a dry
    run found, less what an apply fixed (its pushes were acknowledged)."""
    last = conn.execute(select(reconciliations.c.drift_rate, reconciliations.c.compared,
                               reconciliations.c.applied).where(
        reconciliations.c.tenant_id == tenant_id, reconciliations.c.channel == code)
        .order_by(reconciliations.c.started_at.desc()).limit(1)).first()
    if last is None:
        return None
    if not last.compared:
        return float(last.drift_rate)
    wrong = round(float(last.drift_rate) * last.compared)
    return max(wrong - int(last.applied or 0), 0) / last.compared


def pressure_by_tenant(conn: Connection) -> dict[str, float]:
    rows = conn.execute(select(stock_levels.c.tenant_id, func.sum(stock_levels.c.reserved),
                               func.sum(stock_levels.c.on_hand))
                        .group_by(stock_levels.c.tenant_id))
    return {t: float(r or 0) / float(o) if o else 0.0 for t, r, o in rows}


@dataclass(frozen=True, slots=True)
class Digest:
    tenant_id: str
    events: dict[str, int]
    pushes: int
    drift_found: int
    alerts: int
    oversells_prevented: int

    def text(self, since: datetime) -> str:
        lines = [f"stocksync daily digest for tenant {self.tenant_id} since "
                 f"{since:%Y-%m-%d %H:%M} UTC", ""]
        lines += [f"events recorded: {sum(self.events.values())}"]
        lines += [f"  {kind}: {n}" for kind, n in sorted(self.events.items())]
        lines += [f"quantities pushed to channels: {self.pushes}",
                  f"oversells prevented: {self.oversells_prevented}",
                  f"wrong channel quantities found by reconciliation: {self.drift_found}",
                  f"alerts raised: {self.alerts}"]
        return "\n".join(lines) + "\n"


def digest(conn: Connection, tenant_id: str, since: datetime,
           oversells_prevented: int) -> Digest:
    from stocksync.storage.tables import alerts, channel_skus

    kinds = dict(conn.execute(select(events.c.type, func.count()).where(
        events.c.tenant_id == tenant_id, events.c.recorded_at >= since)
        .group_by(events.c.type)).all())
    pushes = conn.execute(select(func.count()).where(
        channel_skus.c.tenant_id == tenant_id, channel_skus.c.pushed_at >= since)).scalar()
    drift = 0
    for report in conn.execute(select(reconciliations.c.report).where(
            reconciliations.c.tenant_id == tenant_id, reconciliations.c.started_at >= since)):
        drift += len(report[0].get("mismatches", [])) + len(report[0].get("status_mismatches", []))
    raised = conn.execute(select(func.count()).where(
        alerts.c.tenant_id == tenant_id, alerts.c.started_at >= since)).scalar()
    return Digest(tenant_id, {k: int(v) for k, v in kinds.items()}, int(pushes or 0), drift,
                  int(raised or 0), oversells_prevented)


def window(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
