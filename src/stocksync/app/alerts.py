"""Alerts: rules over the current state; one message when a condition starts and one when
it clears (the state is kept in the `alerts` table, so restarts and repeats send nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from stocksync.config import Settings
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tables import channels, events, inbox, reconciliations, stock_levels


@dataclass(frozen=True, slots=True)
class Condition:
    tenant_id: str
    # channel_lag | drift | reservation_pressure | channel_failing | orders_failing |
    # dead_letters
    rule: str
    subject: str  # a channel code, or "*" for the tenant
    value: float
    message: str


def evaluate(conn: Connection, settings: Settings, now: datetime) -> list[Condition]:
    """Every alert condition that holds now, across tenants."""
    found: list[Condition] = []
    for row in conn.execute(select(channels).where(channels.c.enabled)):
        tenant, code = row.tenant_id, row.code
        status = SqlChannels(conn, tenant).status(code, int(row.cursor))
        oldest = status.oldest_unprojected_at
        lag = (now - oldest).total_seconds() if oldest else 0.0
        unpushed = status.oldest_unpushed_at
        lag = max(lag, (now - unpushed).total_seconds() if unpushed else 0.0)
        if lag > settings.alert_lag_seconds:
            found.append(Condition(tenant, "channel_lag", code, lag,
                                   f"channel {code} is {lag:.0f} s behind the ledger"))
        if row.failing_since is not None:
            failing = (now - row.failing_since).total_seconds()
            if failing > settings.alert_failing_seconds:
                found.append(Condition(tenant, "channel_failing", code, failing,
                                       f"channel {code} has been failing for {failing:.0f} s: "
                                       f"{(row.last_error or '')[:200]}"))
        polled_ok = row.order_polled_at or row.created_at
        if row.order_poll_error_at is not None and row.order_poll_error_at > polled_ok:
            failing = (now - polled_ok).total_seconds()
            if failing > settings.alert_failing_seconds:
                found.append(Condition(tenant, "orders_failing", code, failing,
                                       f"channel {code}: orders could not be read for "
                                       f"{failing:.0f} s: {(row.order_poll_error or '')[:200]}"))
        last = conn.execute(select(reconciliations.c.drift_rate).where(
            reconciliations.c.tenant_id == tenant, reconciliations.c.channel == code)
            .order_by(reconciliations.c.started_at.desc()).limit(1)).scalar()
        if last is not None and last > settings.alert_drift_ratio:
            found.append(Condition(tenant, "drift", code, float(last),
                                   f"channel {code} showed wrong quantities for "
                                   f"{last:.2%} of SKUs at the last reconciliation"))
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
