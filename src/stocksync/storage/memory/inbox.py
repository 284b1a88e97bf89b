"""MemoryInboxStore: webhook deliveries across tenants, with storage/inbox.py's claim
semantics: a claim is a fencing token (`claimed_until`), only its holder renews or
releases it, a claim that ran out can be taken over, and one (channel, delivery id) is
kept once."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from stocksync.app.ports import NewDelivery
from stocksync.app.records import Delivery
from stocksync.core.channels import Channel
from stocksync.storage.memory.store import MemoryStore, Tx

PENDING, DONE, FAILED, DISMISSED = "pending", "done", "failed", "dismissed"


@dataclass(frozen=True, slots=True)
class InboxEntry:
    delivery: Delivery
    next_attempt_at: datetime | None = None


def keep(tx: Tx, d: NewDelivery, now: datetime) -> int | None:
    """Keep a delivery; None when (channel, delivery id) was already kept."""
    if any(e.delivery.tenant_id == d.tenant_id and e.delivery.channel == d.channel
           and e.delivery.delivery_id == d.delivery_id for e in tx.read("inbox").values()):
        return None
    new_id = tx.store.next_id()
    tx.write("inbox")[new_id] = InboxEntry(Delivery(
        id=new_id, tenant_id=d.tenant_id, channel=d.channel, kind=d.kind,
        delivery_id=d.delivery_id, topic=d.topic, headers=dict(d.headers), body=bytes(d.body),
        received_at=now, status=PENDING, attempts=0, last_error=None, processed_at=None,
        correlation_id=d.correlation_id), d.not_before)
    return new_id


class MemoryInboxStore:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def _get(self, tx: Tx, delivery_id: int, tenant_id: str | None) -> InboxEntry | None:
        entry: InboxEntry | None = tx.read("inbox").get(delivery_id)
        if entry is None or (tenant_id is not None and entry.delivery.tenant_id != tenant_id):
            return None
        return entry

    def _set(self, tx: Tx, entry: InboxEntry, **changes: object) -> Delivery:
        changed = replace(entry, delivery=replace(entry.delivery, **changes))  # type: ignore[arg-type]
        tx.write("inbox")[entry.delivery.id] = changed
        return changed.delivery

    def keep(self, deliveries: Sequence[NewDelivery], now: datetime) -> list[int | None]:
        with self.store.writing() as tx:
            return [keep(tx, d, now) for d in deliveries]

    def receiver(self, webhook_id: str) -> tuple[Channel, str | None] | None:
        with self.store.reading() as tx:
            for row in tx.read("channels").values():
                if row.channel.webhook_id == webhook_id:
                    return row.channel, row.credentials
        return None

    def record_refused(self, tenant_id: str, channel: str, now: datetime) -> None:
        with self.store.writing() as tx:
            row = tx.read("channels").get((tenant_id, channel))
            if row is not None:
                tx.write("channels")[(tenant_id, channel)] = replace(
                    row, webhooks_refused=row.webhooks_refused + 1, webhook_refused_at=now)

    def listing(self, tenant_id: str, status: str | None, after: int,
                limit: int) -> list[Delivery]:
        with self.store.reading() as tx:
            found = sorted((e.delivery for e in tx.read("inbox").values()
                            if e.delivery.tenant_id == tenant_id and e.delivery.id > after
                            and (not status or e.delivery.status == status)),
                           key=lambda d: d.id)
        return found[:limit]

    def get(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
        with self.store.reading() as tx:
            entry = self._get(tx, delivery_id, tenant_id)
        return None if entry is None else entry.delivery

    def replay(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
        with self.store.writing() as tx:
            entry = self._get(tx, delivery_id, tenant_id)
            if entry is None:
                return None
            entry = replace(entry, next_attempt_at=None)
            return self._set(tx, entry, status=PENDING, attempts=0, claimed_until=None,
                             processed_at=None, dismissed_at=None, dismissed_by=None,
                             dismiss_reason=None)

    def dismiss(self, delivery_id: int, now: datetime, by: str, reason: str | None,
                tenant_id: str | None = None) -> tuple[Delivery | None, bool]:
        with self.store.writing() as tx:
            entry = self._get(tx, delivery_id, tenant_id)
            if entry is None or entry.delivery.status != FAILED:
                return (None if entry is None else entry.delivery), False
            return self._set(tx, entry, status=DISMISSED, dismissed_at=now, dismissed_by=by[:64],
                             dismiss_reason=reason[:4000] if reason else None,
                             claimed_until=None), True

    def claim(self, now: datetime, hold: timedelta, limit: int,
              skip: Iterable[tuple[str, str]] = (),
              later: Collection[str] = ()) -> list[Delivery]:
        skipped = set(skip)
        with self.store.writing() as tx:
            due = sorted((e for e in tx.read("inbox").values()
                          if e.delivery.status == PENDING
                          and (e.next_attempt_at is None or e.next_attempt_at <= now)
                          and (e.delivery.claimed_until is None or e.delivery.claimed_until < now)
                          and not ((e.delivery.tenant_id, e.delivery.channel) in skipped
                                   and (not later or e.delivery.topic in later))),
                         key=lambda e: (e.delivery.topic in later, e.delivery.id))[:limit]
            return [self._set(tx, e, claimed_until=now + hold) for e in due]

    def renew(self, ids: Sequence[int], held_until: datetime, now: datetime,
              hold: timedelta) -> tuple[datetime, set[int]]:
        until = now + hold
        renewed: set[int] = set()
        with self.store.writing() as tx:
            for i in ids:
                entry = self._get(tx, i, None)
                if entry is not None and entry.delivery.status == PENDING \
                        and entry.delivery.claimed_until == held_until:
                    self._set(tx, entry, claimed_until=until)
                    renewed.add(i)
        return until, renewed

    def release(self, ids: Sequence[int], held_until: datetime) -> int:
        released = 0
        with self.store.writing() as tx:
            for i in ids:
                entry = self._get(tx, i, None)
                if entry is not None and entry.delivery.claimed_until == held_until:
                    self._set(tx, entry, claimed_until=None)
                    released += 1
        return released

    def settle(self, delivery_id: int, now: datetime, *, error: str | None = None,
               retry_at: datetime | None = None) -> None:
        """Done (no error), retry later (error and retry_at) or dead-lettered (error)."""
        with self.store.writing() as tx:
            entry = self._get(tx, delivery_id, None)
            if entry is None:
                return
            attempts = entry.delivery.attempts
            if error is None:
                self._set(tx, entry, status=DONE, processed_at=now, last_error=None,
                          claimed_until=None)
            elif retry_at is not None:
                self._set(tx, replace(entry, next_attempt_at=retry_at), attempts=attempts + 1,
                          last_error=error[:4000], claimed_until=None)
            else:
                self._set(tx, entry, status=FAILED, attempts=attempts + 1, processed_at=now,
                          last_error=error[:4000], claimed_until=None)

    def settle_many(self, delivery_ids: Sequence[int], now: datetime) -> None:
        with self.store.writing() as tx:
            for delivery_id in delivery_ids:
                entry = self._get(tx, delivery_id, None)
                if entry is not None:
                    self._set(tx, entry, status=DONE, processed_at=now, last_error=None,
                              claimed_until=None)
