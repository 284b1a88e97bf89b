"""Reservation and Idempotency-Key cases: conditional transitions, due holds, one answer
per key."""

from __future__ import annotations

from datetime import timedelta

from stocksync.app.records import StoredResponse
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus
from tests.storage_contract.base import StorageContract

ACTIVE, COMMITTED, RELEASED, EXPIRED = (ReservationStatus.ACTIVE, ReservationStatus.COMMITTED,
                                        ReservationStatus.RELEASED, ReservationStatus.EXPIRED)


class HoldCases(StorageContract):
    def hold(self, rid: str, minutes: float = 5, tenant: str | None = None,
             sku: str = "TEE-1") -> None:
        with self.uow(tenant) as uow:
            uow.reservations.add(Reservation(rid, sku, "WH", 2, ACTIVE,
                                             self.clock() + timedelta(minutes=minutes)),
                                 ReservationKind.CHECKOUT, "order-7", self.clock())
            uow.commit()

    def test_a_hold_is_kept_with_its_kind_and_reference(self) -> None:
        self.hold("r1")
        with self.uow(write=False) as uow:
            record = uow.reservations.get("r1")
            assert uow.reservations.get("nope") is None
        assert record is not None
        assert (record.tenant_id, record.kind, record.reference, record.created_at,
                record.resolved_at) == (self.tenant, ReservationKind.CHECKOUT, "order-7",
                                        self.clock(), None)
        assert record.reservation == Reservation("r1", "TEE-1", "WH", 2, ACTIVE,
                                                 self.clock() + timedelta(minutes=5))
        with self.uow(self.new_tenant(), write=False) as uow:
            assert uow.reservations.get("r1") is None

    def test_only_an_active_live_hold_is_committed_or_released_once(self) -> None:
        self.hold("r1")
        with self.uow() as uow:
            assert uow.reservations.transition("r1", COMMITTED, self.clock())
            assert not uow.reservations.transition("r1", RELEASED, self.clock())
            assert not uow.reservations.transition("r1", COMMITTED, self.clock())
            uow.commit()
        with self.uow(write=False) as uow:
            record = uow.reservations.get("r1")
        assert record is not None and record.reservation.status is COMMITTED
        assert record.resolved_at == self.clock()

    def test_a_hold_past_its_expiry_can_only_expire(self) -> None:
        self.hold("r1", minutes=5)
        self.hold("r2", minutes=5)
        self.clock.tick(300)  # exactly at expiry: due
        with self.uow() as uow:
            assert not uow.reservations.transition("r1", COMMITTED, self.clock())
            assert uow.reservations.transition("r1", EXPIRED, self.clock())
            uow.commit()
        self.clock.tick(-1)
        with self.uow() as uow:
            assert not uow.reservations.transition("r2", EXPIRED, self.clock())
            assert uow.reservations.transition("r2", RELEASED, self.clock())
            uow.commit()

    def test_a_deleted_hold_is_gone(self) -> None:
        self.hold("r1")
        with self.uow() as uow:
            uow.reservations.delete("r1")
            uow.reservations.delete("never-was")
            uow.commit()
        with self.uow(write=False) as uow:
            assert uow.reservations.get("r1") is None

    def test_due_holds_are_the_active_ones_past_expiry_oldest_first(self) -> None:
        other = self.new_tenant()
        self.hold("late", minutes=3)
        self.hold("early", minutes=1)
        self.hold("other", minutes=2, tenant=other, sku="HAT")
        self.hold("not-yet", minutes=30)
        self.hold("done", minutes=1)
        with self.uow() as uow:
            uow.reservations.transition("done", RELEASED, self.clock())
            uow.commit()
        later = self.clock() + timedelta(minutes=10)
        due = self.svc.admin.due_reservations(later, 10)
        assert [r.reservation.id for r in due] == ["early", "other", "late"]
        assert [r.reservation.id for r in self.svc.admin.due_reservations(later, 1)] == ["early"]
        assert [r.reservation.id for r in self.svc.admin.due_reservations(
            later, 10, tenant_id=other)] == ["other"]
        assert [r.reservation.id for r in self.svc.admin.due_reservations(
            later, 10, sku="HAT")] == ["other"]

    # ---- Idempotency-Key ---------------------------------------------------------------

    def test_a_key_is_claimed_once_and_then_holds_its_answer(self) -> None:
        with self.uow() as uow:
            assert uow.idempotency.claim("k1", "fp", self.clock()) is None
            assert uow.idempotency.lookup("k1") == StoredResponse("fp", None, None)
            uow.idempotency.complete("k1", 201, '{"ok": true}')
            uow.commit()
        with self.uow() as uow:
            assert uow.idempotency.claim("k1", "other", self.clock()) == \
                StoredResponse("fp", 201, '{"ok": true}')
        with self.uow(self.new_tenant()) as uow:
            assert uow.idempotency.claim("k1", "fp", self.clock()) is None

    def test_a_claim_that_rolled_back_leaves_the_key_free(self) -> None:
        with self.uow() as uow:
            assert uow.idempotency.claim("k1", "fp", self.clock()) is None
        with self.uow() as uow:
            assert uow.idempotency.lookup("k1") is None
            assert uow.idempotency.claim("k1", "fp2", self.clock()) is None
            uow.commit()

    def test_old_keys_are_purged(self) -> None:
        with self.uow() as uow:
            uow.idempotency.claim("old", "fp", self.clock())
            uow.commit()
        self.clock.tick(3600)
        with self.uow() as uow:
            uow.idempotency.claim("new", "fp", self.clock())
            uow.commit()
        assert self.svc.admin.purge_idempotency_keys(self.clock()) == 1
        with self.uow(write=False) as uow:
            assert uow.idempotency.lookup("old") is None
            assert uow.idempotency.lookup("new") is not None
