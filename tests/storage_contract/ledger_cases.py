"""Ledger cases: the guards every implementation keeps, and what a transaction keeps."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from stocksync.core.catalog import Location
from stocksync.core.events import Event, EventType
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus
from tests.storage_contract.base import StorageContract


def _sale(quantity: int, sku: str = "TEE-1", location: str = "WH") -> Event:
    return Event(EventType.SOLD, sku, location, quantity)


def _count(quantity: int, at: str, sku: str = "TEE-1") -> Event:
    return Event(EventType.COUNTED, sku, "WH", quantity, {"occurred_at": at})


class LedgerCases(StorageContract):
    def test_an_accepted_event_changes_its_level_and_reports_the_counts_after_it(self) -> None:
        self.stock(on_hand=5)
        done = self.append(_sale(2))
        assert done is not None
        assert (done.on_hand, done.reserved, done.version) == (3, 0, 2)
        assert self.on_hand() == 3

    def test_stock_never_goes_negative(self) -> None:
        self.stock(on_hand=2)
        assert self.append(_sale(3)) is None
        assert self.append(Event(EventType.ADJUSTED, "TEE-1", "WH", -3)) is None
        assert self.on_hand() == 2
        assert self.append(_sale(2)) is not None
        assert self.on_hand() == 0

    def test_an_event_on_a_level_that_does_not_exist_is_refused(self) -> None:
        self.stock(on_hand=1)
        assert self.append(_sale(1, location="NOWHERE")) is None
        assert self.append(Event(EventType.RECEIVED, "TEE-1", "NOWHERE", 3)) is None

    def test_ensure_level_is_idempotent_and_keeps_the_counts(self) -> None:
        self.stock(on_hand=4)
        with self.uow() as uow:
            uow.ledger.ensure_level("TEE-1", "WH", self.clock())
            uow.commit()
        assert self.on_hand() == 4

    def test_a_count_older_than_the_newest_applied_is_refused(self) -> None:
        self.stock(on_hand=0)
        assert self.append(_count(7, "2026-03-01T10:00:00+00:00")) is not None
        assert self.append(_count(3, "2026-03-01T09:00:00+00:00")) is None
        assert self.append(_count(3, "2026-03-01T10:00:00+00:00")) is None
        assert self.on_hand() == 7
        assert self.append(_count(4, "2026-03-01T11:00:00+00:00")) is not None
        assert self.on_hand() == 4

    def test_an_expected_version_that_moved_on_is_refused(self) -> None:
        self.stock(on_hand=5)  # version 1 (received)
        assert self.append(_count(9, "2026-03-01T10:00:00+00:00"), expected_version=0) is None
        done = self.append(_count(9, "2026-03-01T10:00:00+00:00"), expected_version=1)
        assert done is not None and done.version == 2

    def test_reserved_never_goes_negative_and_holds_take_available(self) -> None:
        self.stock(on_hand=3)
        assert self.append(Event(EventType.RESERVED, "TEE-1", "WH", 4)) is None
        assert self.append(Event(EventType.RESERVED, "TEE-1", "WH", 2)) is not None
        assert self.append(_sale(2)) is None  # only one unit is available
        assert self.append(Event(EventType.RELEASED, "TEE-1", "WH", 3)) is None
        done = self.append(Event(EventType.COMMITTED, "TEE-1", "WH", 2))
        assert done is not None and (done.on_hand, done.reserved) == (1, 0)

    def test_an_event_without_a_level_effect_is_staged_and_touches_no_level(self) -> None:
        self.stock(on_hand=1)
        done = self.append(Event(EventType.ITEM_DELETED, "TEE-1", None))
        assert done is not None and done.on_hand is None and done.version is None
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            types = [e.type for e in uow.log.page(0, 10)]
            assert uow.ledger.level("TEE-1", "WH", self.clock()).version == 1
        assert types == ["stock.received", "item.deleted"]

    def test_levels_do_not_count_holds_past_their_expiry(self) -> None:
        self.stock(on_hand=5)
        with self.uow() as uow:
            uow.reservations.add(Reservation("r1", "TEE-1", "WH", 2, ReservationStatus.ACTIVE,
                                             self.clock() + timedelta(minutes=5)),
                                 ReservationKind.CART, None, self.clock())
            uow.ledger.append(Event(EventType.RESERVED, "TEE-1", "WH", 2), self.ctx())
            uow.commit()
        with self.uow(write=False) as uow:
            assert uow.ledger.level("TEE-1", "WH", self.clock()).available == 3
            later = self.clock() + timedelta(minutes=6)
            assert uow.ledger.level("TEE-1", "WH", later).available == 5
            assert [lv.reserved for lv in uow.ledger.stored_levels()] == [2]
            assert uow.ledger.levels(["TEE-1", "OTHER"], later) == \
                [uow.ledger.level("TEE-1", "WH", later)]

    def test_levels_are_per_tenant(self) -> None:
        self.stock(on_hand=5)
        other = self.new_tenant()
        with self.uow(other, write=False) as uow:
            assert uow.ledger.stored_levels() == []
            assert uow.ledger.level("TEE-1", "WH", self.clock()).on_hand == 0

    # ---- transactions ----------------------------------------------------------------

    def test_leaving_without_commit_keeps_nothing(self) -> None:
        self.stock(on_hand=5)
        with self.uow() as uow:
            assert uow.ledger.append(_sale(5), self.ctx()) is not None
            uow.catalog.put_location(Location("NYC", "New York"), self.clock())
        assert self.on_hand() == 5
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            assert uow.catalog.location("NYC") is None
            assert len(uow.log.page(0, 10)) == 1

    def test_an_error_inside_the_unit_of_work_rolls_it_back(self) -> None:
        self.stock(on_hand=5)
        with pytest.raises(RuntimeError), self.uow() as uow:
            uow.ledger.append(_sale(1), self.ctx())
            raise RuntimeError("boom")
        assert self.on_hand() == 5

    def test_deferred_work_runs_at_commit_and_can_abort_it(self) -> None:
        self.stock(on_hand=5)
        ran: list[str] = []
        with self.uow() as uow:
            uow.defer(lambda: ran.append("deferred"))
            assert ran == []
            uow.commit()
        assert ran == ["deferred"]

        def refuse() -> None:
            raise LookupError("not now")

        with pytest.raises(LookupError), self.uow() as uow:
            uow.ledger.append(_sale(2), self.ctx())
            uow.defer(refuse)
            uow.commit()
        assert self.on_hand() == 5

    def test_a_commit_that_staged_events_rings_and_one_that_did_not_stays_quiet(self) -> None:
        self.stock(on_hand=5)
        rung: list[int] = []
        with self.svc.uows(self.tenant, on_commit=lambda: rung.append(1)) as uow:
            uow.catalog.put_location(Location("NYC", "New York"), self.clock())
            uow.commit()
        assert rung == []
        with self.svc.uows(self.tenant, on_commit=lambda: rung.append(1)) as uow:
            uow.ledger.append(_sale(1), self.ctx())
            uow.commit()
        assert rung == [1]

    def test_a_reader_never_sees_an_uncommitted_write(self) -> None:
        self.stock(on_hand=5)
        seen: list[int] = []
        wrote, read = threading.Event(), threading.Event()

        def reader() -> None:
            wrote.wait(5)
            seen.append(self.on_hand())
            read.set()

        thread = threading.Thread(target=reader)
        thread.start()
        with self.uow() as uow:
            uow.ledger.append(_sale(4), self.ctx())
            wrote.set()
            read.wait(5)
            uow.commit()
        thread.join(5)
        assert seen == [5]
        assert self.on_hand() == 1

    def test_two_units_of_work_selling_the_last_unit_one_wins(self) -> None:
        self.stock(on_hand=1)
        start = threading.Barrier(2)
        results: list[object] = []

        def buy() -> None:
            start.wait(5)
            results.append(self.append(_sale(1)))

        threads = [threading.Thread(target=buy) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(r is None for r in results) == [False, True]
        assert self.on_hand() == 0

    def test_many_concurrent_sales_of_one_sku_never_oversell(self) -> None:
        self.stock(on_hand=5)
        results: list[object] = []
        lock = threading.Lock()

        def buy() -> None:
            done = self.append(_sale(1))
            with lock:
                results.append(done)

        threads = [threading.Thread(target=buy) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sum(r is not None for r in results) == 5
        assert self.on_hand() == 0
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            versions = [e.version for e in uow.log.page(0, 100)]
        assert versions == list(range(1, 7))  # one level, changed in log order
