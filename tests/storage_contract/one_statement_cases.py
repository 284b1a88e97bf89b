"""The one-step hold (Ledger.reserve_in_one_statement), for the stores that offer it to
the service (PostgreSQL) and the memory twin, which implements it too: stock, hold and
the Idempotency-Key answer are kept together or not at all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stocksync.app.records import KeyTaken, ReservationRecord, StoredResponse, WriteContext
from stocksync.core.events import Event, EventType
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus
from tests.storage_contract.base import StorageContract


class OneStatementCases(StorageContract):
    def reserve(self, rid: str, quantity: int, key: str | None = None,
                sku: str = "TEE-1") -> object:
        ctx = WriteContext(tenant_id=self.tenant, now=self.clock(), idempotency_key=key)
        res = Reservation(rid, sku, "WH", quantity, ReservationStatus.ACTIVE,
                          self.clock() + timedelta(minutes=5))
        record = ReservationRecord(self.tenant, res, ReservationKind.CART, None, self.clock(),
                                   None)
        with self.uow(write=False) as uow:
            return uow.ledger.reserve_in_one_statement(
                Event(EventType.RESERVED, sku, "WH", quantity, {"reservation_id": rid}), ctx,
                record, StoredResponse("fp", 201, f'{{"id": "{rid}"}}'))

    def test_the_hold_the_stock_and_the_answer_are_kept_in_one_step(self) -> None:
        self.stock(on_hand=3)
        done = self.reserve("r1", 2, key="k1")
        assert done is not None
        with self.uow(write=False) as uow:
            assert uow.ledger.level("TEE-1", "WH", self.clock()).reserved == 2
            assert uow.reservations.get("r1") is not None
            assert uow.idempotency.lookup("k1") == StoredResponse("fp", 201, '{"id": "r1"}')

    def test_a_refused_hold_keeps_nothing(self) -> None:
        self.stock(on_hand=1)
        assert self.reserve("r1", 2, key="k1") is None
        with self.uow(write=False) as uow:
            assert uow.reservations.get("r1") is None
            assert uow.idempotency.lookup("k1") is None
            assert uow.ledger.level("TEE-1", "WH", self.clock()).reserved == 0

    def test_a_deleted_item_cannot_be_held(self) -> None:
        self.stock(on_hand=3)
        with self.uow() as uow:
            uow.catalog.set_deleted("TEE-1", self.clock(), self.clock())
            uow.commit()
        assert self.reserve("r1", 1) is None

    def test_a_key_with_an_answer_already_keeps_nothing_new(self) -> None:
        self.stock(on_hand=3)
        self.reserve("r1", 1, key="k1")
        with pytest.raises(KeyTaken):
            self.reserve("r2", 1, key="k1")
        with self.uow(write=False) as uow:
            assert uow.reservations.get("r2") is None
            assert uow.ledger.level("TEE-1", "WH", self.clock()).reserved == 1
