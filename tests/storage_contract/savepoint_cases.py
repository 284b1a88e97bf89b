"""Savepoint cases: an exception inside a savepoint undoes that part of the write
transaction alone; what came before it, and a savepoint that ended well, are committed."""

from __future__ import annotations

import pytest

from stocksync.core.events import Event, EventType
from tests.storage_contract.base import StorageContract


class Boom(Exception):
    pass


class SavepointCases(StorageContract):
    def test_an_exception_in_a_savepoint_undoes_only_that_part(self) -> None:
        self.stock(on_hand=5)
        with self.uow() as uow:
            assert uow.ledger.append(Event(EventType.SOLD, "TEE-1", "WH", 1),
                                     self.ctx()) is not None
            assert uow.idempotency.claim("before", "f", self.clock()) is None
            with pytest.raises(Boom), uow.savepoint():
                assert uow.ledger.append(Event(EventType.SOLD, "TEE-1", "WH", 2),
                                         self.ctx()) is not None
                assert uow.idempotency.claim("undone", "f", self.clock()) is None
                assert uow.ledger.level("TEE-1", "WH", self.clock()).on_hand == 2
                raise Boom
            # Inside the transaction already: the undone part is gone, the rest is there.
            assert uow.ledger.level("TEE-1", "WH", self.clock()).on_hand == 4
            assert uow.idempotency.lookup("undone") is None
            with uow.savepoint():
                assert uow.idempotency.claim("after", "f", self.clock()) is None
                assert uow.ledger.append(Event(EventType.SOLD, "TEE-1", "WH", 1),
                                         self.ctx()) is not None
            uow.commit()
        assert self.on_hand() == 3
        with self.uow(write=False) as uow:
            kept = {k: uow.idempotency.lookup(k) is not None
                    for k in ("before", "undone", "after")}
        assert kept == {"before": True, "undone": False, "after": True}
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            sold = [e.quantity for e in uow.log.page(0, 100, types=["stock.sold"])]
        assert sold == [1, 1]  # the undone sale never reaches the log

    def test_work_deferred_in_an_undone_savepoint_does_not_run(self) -> None:
        ran: list[str] = []
        with self.uow() as uow:
            uow.defer(lambda: ran.append("kept"))
            with pytest.raises(Boom), uow.savepoint():
                uow.defer(lambda: ran.append("undone"))
                raise Boom
            uow.commit()
        assert ran == ["kept"]

    def test_a_savepoint_undone_changes_nothing_when_the_whole_is_rolled_back(self) -> None:
        self.stock(on_hand=5)
        with self.uow() as uow, uow.savepoint():
            uow.ledger.append(Event(EventType.SOLD, "TEE-1", "WH", 2), self.ctx())
            # no commit: leaving the unit of work rolls back the savepoint's part too
        assert self.on_hand() == 5
