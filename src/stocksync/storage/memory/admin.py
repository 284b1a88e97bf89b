"""MemoryStoreAdmin: the cross-tenant work (sequencing, housekeeping, due holds).

The sequencer moves committed outbox rows into each tenant's log with consecutive
positions, like storage/sequencer.py: a reader only ever sees a gap-free prefix in commit
order, and events stay in the outbox (unsequenced) until a sweep runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from stocksync.app.ports import Doorbell, Running
from stocksync.app.records import LoggedEvent, ReservationRecord
from stocksync.core.channels import Channel
from stocksync.core.reservations import ReservationStatus
from stocksync.storage.memory.inbox import DONE
from stocksync.storage.memory.store import MemoryStore

BATCH = 2000


class MemoryStoreAdmin:
    kind = "memory"

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def ping(self) -> None:
        """Always answers: the store is this process's memory."""

    def tenant_ids(self) -> list[str]:
        with self.store.reading() as tx:
            return sorted(tx.read("tenants"))

    def enabled_channels(self) -> list[Channel]:
        with self.store.reading() as tx:
            return [r.channel for r in tx.read("channels").values() if r.channel.enabled]

    def channel_counts(self) -> dict[str, int]:
        with self.store.reading() as tx:
            rows = list(tx.read("channels").values())
            pending = sum(r.pending_since is not None for r in tx.read("channel_skus").values())
        return {"total": len(rows), "enabled": sum(r.channel.enabled for r in rows),
                "failing": sum(r.failing_since is not None for r in rows),
                "pending_skus": pending}

    def sequence_pending(self) -> int:
        if not self.store.tables["outbox"]:  # a cheap look first, as in SQL
            return 0
        with self.store.writing() as tx:
            outbox = tx.read("outbox")
            taken = sorted(outbox)[:BATCH]
            by_tenant: dict[str, list[LoggedEvent]] = defaultdict(list)
            for staged_id in taken:
                by_tenant[outbox[staged_id].tenant_id].append(outbox[staged_id].event)
            heads, log = tx.write("heads"), tx.write("events")
            for tenant_id, staged in by_tenant.items():
                head = heads.get(tenant_id, 0)
                log[tenant_id] = log.get(tenant_id, ()) + tuple(
                    replace(e, sequence=head + n) for n, e in enumerate(staged, start=1))
                heads[tenant_id] = head + len(staged)
            kept = tx.write("outbox")
            for staged_id in taken:
                del kept[staged_id]
        return len(taken)

    def drain(self) -> int:
        total = 0
        while done := self.sequence_pending():
            total += done
        return total

    def listen(self, bus: Doorbell, topic: str) -> Running | None:
        return None  # one process: its own bus already rings

    def purge_inbox(self, older_than: datetime) -> int:
        with self.store.writing() as tx:
            old = [i for i, e in tx.read("inbox").items()
                   if e.delivery.status == DONE and e.delivery.received_at < older_than]
            if old:
                entries = tx.write("inbox")
                for i in old:
                    del entries[i]
        return len(old)

    def purge_idempotency_keys(self, older_than: datetime) -> int:
        with self.store.writing() as tx:
            old = [k for k, kept in tx.read("idempotency").items() if kept.created_at < older_than]
            if old:
                keys = tx.write("idempotency")
                for k in old:
                    del keys[k]
        return len(old)

    def due_reservations(self, now: datetime, limit: int, *, tenant_id: str | None = None,
                         sku: str | None = None) -> list[ReservationRecord]:
        with self.store.reading() as tx:
            due = [r for r in tx.read("reservations").values()
                   if r.reservation.status is ReservationStatus.ACTIVE
                   and r.reservation.expires_at <= now
                   and (tenant_id is None or r.tenant_id == tenant_id)
                   and (sku is None or r.reservation.sku == sku)]
        return sorted(due, key=lambda r: r.reservation.expires_at)[:limit]

    # ---- reconciliation reports --------------------------------------------------------

    def save_report(self, report: Mapping[str, Any]) -> None:
        with self.store.writing() as tx:
            tx.write("reports")[str(report["id"])] = dict(report)

    def load_report(self, tenant_id: str, report_id: str) -> dict[str, Any] | None:
        with self.store.reading() as tx:
            kept = tx.read("reports").get(report_id)
        return _out(kept) if kept is not None and kept["tenant_id"] == tenant_id else None

    def latest_report(self, tenant_id: str, channel: str) -> dict[str, Any] | None:
        with self.store.reading() as tx:
            mine = [r for r in tx.read("reports").values()
                    if r["tenant_id"] == tenant_id and r["channel"] == channel]
        return _out(max(mine, key=lambda r: r["started_at"])) if mine else None


def _out(kept: Mapping[str, Any]) -> dict[str, Any]:
    """As storage/reconciliations.py reads a report back: its findings spread in."""
    fields = ("id", "channel", "mode", "started_at", "finished_at", "compared", "drift_rate",
              "applied", "error")
    return {**{k: kept.get(k) for k in fields}, **dict(kept.get("report") or {})}
