"""MemoryReservations and MemoryIdempotency: holds with conditional transitions, and one
answer per Idempotency-Key."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from stocksync.app.records import ReservationRecord, StoredResponse
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus
from stocksync.storage.memory.ledger import KeptAnswer
from stocksync.storage.memory.store import Bound


class MemoryReservations(Bound):
    def add(self, res: Reservation, kind: ReservationKind, reference: str | None,
            now: datetime) -> None:
        key = (self.tenant_id, res.id)
        if key in self.tx.read("reservations"):
            raise KeyError(f"reservation {res.id} exists already")  # the primary key
        self.tx.write("reservations")[key] = ReservationRecord(
            self.tenant_id, res, kind, reference, now, None)

    def get(self, reservation_id: str) -> ReservationRecord | None:
        found: ReservationRecord | None = self.tx.read("reservations").get(
            (self.tenant_id, reservation_id))
        return found

    def delete(self, reservation_id: str) -> None:
        key = (self.tenant_id, reservation_id)
        if key in self.tx.read("reservations"):
            del self.tx.write("reservations")[key]

    def transition(self, reservation_id: str, to: ReservationStatus, now: datetime) -> bool:
        """Only an active hold moves: commit and release need it still live, expiry needs
        it due. False when another transition won."""
        record = self.get(reservation_id)
        if record is None or record.reservation.status is not ReservationStatus.ACTIVE:
            return False
        due = record.reservation.expires_at <= now
        if due != (to is ReservationStatus.EXPIRED):
            return False
        self.tx.write("reservations")[(self.tenant_id, reservation_id)] = replace(
            record, reservation=replace(record.reservation, status=to), resolved_at=now)
        return True


class MemoryIdempotency(Bound):
    def claim(self, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        """Writers run one at a time, so a key is claimed by exactly one of two requests;
        the other finds it (and its answer, once the first committed)."""
        stored = self.lookup(key)
        if stored is not None:
            return stored
        self.tx.write("idempotency")[(self.tenant_id, key)] = KeptAnswer(
            StoredResponse(fingerprint, None, None), now)
        return None

    def lookup(self, key: str) -> StoredResponse | None:
        kept: KeptAnswer | None = self.tx.read("idempotency").get((self.tenant_id, key))
        return None if kept is None else kept.answer

    def complete(self, key: str, status_code: int, body: str) -> None:
        kept: KeptAnswer | None = self.tx.read("idempotency").get((self.tenant_id, key))
        if kept is not None:
            self.tx.write("idempotency")[(self.tenant_id, key)] = replace(
                kept, answer=replace(kept.answer, status_code=status_code, body=body))
