"""Alerts: rules over the current state; one message when a condition starts and one when
it clears (the state is kept in the `alerts` table, so restarts and repeats send nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from stocksync.config import Settings
from stocksync.core.channels import ChannelState, ChannelStatus


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A channel's last reconciliation: its drift, SKUs compared, and pushes an apply made."""

    drift_rate: float
    compared: int
    applied: int


class AlertReads(Protocol):
    """What the rules read, across tenants (storage/alert_reads.py)."""

    def channel_statuses(self, now: datetime) -> list[tuple[str, str, ChannelStatus]]: ...

    def stock_totals(self) -> dict[str, tuple[int, int]]: ...  # tenant -> (reserved, on hand)

    def failed_deliveries(self) -> dict[str, int]: ...  # tenant -> dead letters

    def last_reconciliation(self, tenant_id: str, code: str) -> Reconciled | None: ...

    def events_by_type(self, tenant_id: str, since: datetime) -> dict[str, int]: ...

    def pushes_since(self, tenant_id: str, since: datetime) -> int: ...

    def reconcile_reports_since(self, tenant_id: str, since: datetime
                                ) -> list[dict[str, Any]]: ...

    def alerts_raised_since(self, tenant_id: str, since: datetime) -> int: ...


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


def channel_health(reads: AlertReads, settings: Settings, now: datetime
                   ) -> list[ChannelHealth]:
    """Every channel's status and state (the same numbers GET /v1/channels shows)."""
    return [ChannelHealth(tenant_id, code, status,
                          status.state(now, settings.alert_lag_seconds),
                          status.lag_seconds(now))
            for tenant_id, code, status in reads.channel_statuses(now)]


def evaluate(reads: AlertReads, settings: Settings, now: datetime,
             health: list[ChannelHealth] | None = None) -> list[Condition]:
    """Every alert condition that holds now, across tenants. A paused (disabled) channel
    raises nothing; SKUs held on purpose or parked are not lag (see ChannelStatus)."""
    found: list[Condition] = []
    for seen in health if health is not None else channel_health(reads, settings, now):
        if seen.status.enabled:
            found += _channel_conditions(reads, settings, now, seen)
    for tenant, ratio in pressure_by_tenant(reads).items():
        if ratio > settings.alert_pressure_ratio:
            found.append(Condition(tenant, "reservation_pressure", "*", ratio,
                                   f"{ratio:.0%} of stock on hand is held by reservations"))
    for tenant, count in reads.failed_deliveries().items():
        found.append(Condition(tenant, "dead_letters", "*", float(count),
                               f"{count} webhook deliveries failed and wait in the inbox"))
    return found


def _channel_conditions(reads: AlertReads, settings: Settings, now: datetime,
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
    drift = remaining_drift(reads, tenant, code)
    if drift is not None and drift > settings.alert_drift_ratio:
        found.append(Condition(tenant, "drift", code, drift,
                               f"channel {code} showed wrong quantities for "
                               f"{drift:.2%} of SKUs at the last reconciliation"))
    return found


def remaining_drift(reads: AlertReads, tenant_id: str, code: str) -> float | None:
    """The share of SKUs still wrong after the channel's last reconciliation: what a dry
    run found, less what an apply fixed (its pushes were acknowledged)."""
    last = reads.last_reconciliation(tenant_id, code)
    if last is None:
        return None
    if not last.compared:
        return last.drift_rate
    wrong = round(last.drift_rate * last.compared)
    return max(wrong - last.applied, 0) / last.compared


def pressure_by_tenant(reads: AlertReads) -> dict[str, float]:
    """Each tenant's share of stock on hand held by reservations."""
    return {t: float(r) / float(o) if o else 0.0
            for t, (r, o) in reads.stock_totals().items()}


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


def digest(reads: AlertReads, tenant_id: str, since: datetime,
           oversells_prevented: int) -> Digest:
    drift = sum(len(report.get("mismatches", [])) + len(report.get("status_mismatches", []))
                for report in reads.reconcile_reports_since(tenant_id, since))
    return Digest(tenant_id, reads.events_by_type(tenant_id, since),
                  reads.pushes_since(tenant_id, since), drift,
                  reads.alerts_raised_since(tenant_id, since), oversells_prevented)


def window(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
