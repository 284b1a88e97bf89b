"""Reconciliation: what each channel really shows against what the ledger says it should.

Dry run by default: a report of mismatches (with both values), untracked SKUs (on the
channel, unknown here), missing listings (here, absent there) and status mismatches (a
deleted SKU still for sale). Apply pushes the source values (stocksync wins).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio

from stocksync import metrics
from stocksync.app.service import Stocksync
from stocksync.channels.base import ChannelConnector, DiscoversMapping, QuantitySet, RateLimited
from stocksync.core.channel_rules import (
    SkuState,
    channel_quantity,
    leg_quantities,
    location_legs,
    sku_included,
    split_key,
)
from stocksync.core.channels import Channel

Progress = Callable[[int, int], None]  # (done, total)
READ_CHUNK = 250
RATE_LIMIT_RETRIES = 5
T = TypeVar("T")


def save_report(svc: Stocksync, report: ReconcileReport) -> None:
    data = report.as_json()
    svc.admin.save_report({
        "id": report.id, "tenant_id": report.tenant_id, "channel": report.channel,
        "mode": report.mode, "started_at": report.started_at,
        "finished_at": report.finished_at, "compared": report.compared,
        "drift_rate": report.drift_rate, "applied": report.applied,
        "report": {k: data[k] for k in ("mismatches", "status_mismatches", "missing",
                                        "untracked")},
        "error": report.error})


def load_report(svc: Stocksync, tenant_id: str, report_id: str) -> dict[str, Any] | None:
    return svc.admin.load_report(tenant_id, report_id)


def latest_report(svc: Stocksync, tenant_id: str, channel: str) -> dict[str, Any] | None:
    return svc.admin.latest_report(tenant_id, channel)


@dataclass(frozen=True, slots=True)
class Mismatch:
    sku: str
    expected: int
    actual: int


@dataclass
class ReconcileReport:
    id: str
    tenant_id: str
    channel: str
    mode: str
    started_at: datetime
    finished_at: datetime | None = None
    compared: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    status_mismatches: list[Mismatch] = field(default_factory=list)  # deleted, still for sale
    missing: list[str] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)
    applied: int = 0
    error: str | None = None

    @property
    def drift_rate(self) -> float:
        wrong = len(self.mismatches) + len(self.status_mismatches)
        return wrong / self.compared if self.compared else 0.0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["drift_rate"] = self.drift_rate
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data


def _expected(svc: Stocksync, channel: Channel) -> tuple[dict[str, int], set[str]]:
    """Every SKU this channel should list, with its quantity, and the deleted SKUs."""
    now = svc.clock()
    with svc.uow(channel.tenant_id, write=False) as uow:
        items = uow.catalog.items(limit=10_000_000, include_deleted=True)
        available: dict[str, dict[str, int]] = {}
        skus = [i.sku for i in items]
        for start in range(0, len(skus), 1000):
            for level in uow.ledger.levels(skus[start:start + 1000], now):
                available.setdefault(level.sku, {})[level.location] = level.available
    deleted = {i.sku for i in items if i.is_deleted}
    states = [SkuState(i.sku, available.get(i.sku, {}), i.sku in deleted)
              for i in items if sku_included(channel.rules, i.sku)]
    legs = location_legs(channel.settings)
    if legs:  # a mapped channel: one key per SKU and store location, `SKU@<store id>`
        return {k: q for state in states
                for k, q in leg_quantities(channel.rules, legs, state).items()}, deleted
    return {state.sku: channel_quantity(channel.rules, state) for state in states}, deleted


async def reconcile(svc: Stocksync, channel: Channel, connector: ChannelConnector, *,
                    apply: bool = False, progress: Progress | None = None,
                    full_catalog: bool = True) -> ReconcileReport:
    """`full_catalog` walks the channel's whole catalog (finds untracked SKUs); without it
    only SKUs the channel has no stored id for are looked up (scheduled runs)."""
    report = ReconcileReport(str(uuid.uuid4()), channel.tenant_id, channel.code,
                             "apply" if apply else "dry_run", svc.clock())
    try:
        await _compare(svc, channel, connector, report, apply, progress, full_catalog)
    except Exception as exc:  # the report records why it stopped; the caller sees it
        report.error = f"{type(exc).__name__}: {exc}"
    report.finished_at = svc.clock()
    await anyio.to_thread.run_sync(save_report, svc, report)
    metrics.DRIFT.labels(channel.tenant_id, channel.code).set(report.drift_rate)
    return report


async def _compare(svc: Stocksync, channel: Channel, connector: ChannelConnector,
                   report: ReconcileReport, apply: bool, progress: Progress | None,
                   full_catalog: bool) -> None:
    expected, deleted = await anyio.to_thread.run_sync(_expected, svc, channel)
    in_flight = await anyio.to_thread.run_sync(_in_flight, svc, channel)
    discovers = isinstance(connector, DiscoversMapping)
    listed: set[str] | None = None
    if discovers and full_catalog:  # the whole catalog: untracked SKUs too
        listed = set(await _patiently(partial(connector.discover_mapping, None)))
    elif discovers:
        unmapped = sorted({split_key(s)[0] for s in expected} - set(connector.mapping))
        if unmapped:
            await _patiently(partial(connector.discover_mapping, unmapped))
    skus = sorted(expected)  # SKUs, or SKU@<store id> keys on a mapped channel
    actual: dict[str, int] = {}
    for start in range(0, len(skus), READ_CHUNK):
        chunk = skus[start:start + READ_CHUNK]
        if listed is not None:
            chunk = [s for s in chunk if split_key(s)[0] in listed]
        if chunk:
            actual.update(await _patiently(lambda c=chunk: connector.fetch_quantities(c)))
        if progress:
            progress(min(start + READ_CHUNK, len(skus)), len(skus))
    report.compared = len(actual)
    for sku in skus:
        gone = split_key(sku)[0] in deleted
        if sku not in actual:
            if not gone and split_key(sku)[0] not in report.missing:
                report.missing.append(split_key(sku)[0])
            continue
        want, have = expected[sku], actual[sku]
        if want != have and sku not in in_flight:  # a push on its way is not drift
            bucket = report.status_mismatches if gone else report.mismatches
            bucket.append(Mismatch(sku, want, have))
    if listed is not None:
        known = await anyio.to_thread.run_sync(_all_skus, svc, channel.tenant_id)
        report.untracked = sorted(listed - known)
    if apply:
        report.applied = await _apply(svc, channel, connector,
                                      report.mismatches + report.status_mismatches)


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """A long read shares the channel's limits with the pushes: wait out a rate limit a
    few times rather than abandon the whole reconciliation."""
    for attempt in range(RATE_LIMIT_RETRIES):
        try:
            return await call()
        except RateLimited as exc:
            if attempt == RATE_LIMIT_RETRIES - 1:
                raise
            await anyio.sleep(max(exc.retry_after, 0.1))
    raise AssertionError("unreachable")


def _in_flight(svc: Stocksync, channel: Channel) -> set[str]:
    """SKUs with a change the channel has not acknowledged yet."""
    with svc.uow(channel.tenant_id, write=False) as uow:
        return uow.channels.pending_skus(channel.code)


def _all_skus(svc: Stocksync, tenant_id: str) -> set[str]:
    with svc.uow(tenant_id, write=False) as uow:
        return {i.sku for i in uow.catalog.items(limit=10_000_000, include_deleted=True)}


async def _apply(svc: Stocksync, channel: Channel, connector: ChannelConnector,
                 wrong: list[Mismatch]) -> int:
    """Push the source values and record them as what the channel now shows."""
    applied = 0
    for start in range(0, len(wrong), connector.max_batch):
        batch = wrong[start:start + connector.max_batch]
        pushed = await connector.set_quantities(
            [QuantitySet(m.sku, m.expected, known=m.actual) for m in batch])

        def record(acked: dict[str, int] = pushed.acknowledged) -> None:
            now = svc.clock()
            with svc.uow(channel.tenant_id) as uow:
                repo = uow.channels
                targets = repo.targets(channel.code, list(acked))
                for sku, value in acked.items():
                    repo.want(channel.code, sku, value, channel.cursor, now, targets.get(sku))
                    repo.acknowledge(channel.code, sku, value, now)
                uow.commit()

        await anyio.to_thread.run_sync(record)
        applied += len(pushed.acknowledged)
    return applied
