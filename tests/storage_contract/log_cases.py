"""Log cases: committed events get gap-free positions in commit order, only once
sequenced; the log is read by page, by SKU, and replayed with the outbox."""

from __future__ import annotations

import threading

from stocksync.app.records import WriteContext
from stocksync.core.events import Event, EventType
from tests.storage_contract.base import StorageContract


def _receive(quantity: int, sku: str = "TEE-1") -> Event:
    return Event(EventType.RECEIVED, sku, "WH", quantity)


class LogCases(StorageContract):
    def test_committed_events_are_read_only_once_sequenced(self) -> None:
        self.stock(on_hand=5)
        with self.uow(write=False) as uow:
            assert uow.log.page(0, 10) == []
            assert uow.log_head() == 0
            assert [e.sequence for e in uow.log.replay_stream()] == [None]
        assert self.svc.admin.sequence_pending() == 1
        assert self.svc.admin.sequence_pending() == 0
        with self.uow(write=False) as uow:
            page = uow.log.page(0, 10)
            assert [e.sequence for e in page] == [1]
            assert uow.log_head() == 1
        logged = page[0]
        assert (logged.type, logged.sku, logged.location, logged.quantity) == \
            ("stock.received", "TEE-1", "WH", 5)
        assert (logged.on_hand_after, logged.reserved_after, logged.version) == (5, 0, 1)
        assert logged.recorded_at == self.clock()

    def test_an_event_keeps_its_provenance(self) -> None:
        self.stock(on_hand=0)
        ctx = WriteContext(tenant_id=self.tenant, now=self.clock(), source="shopify",
                           actor="key:sk_abc", idempotency_key="k-1", correlation_id="c-1",
                           origin="shop-a", occurred_at=self.clock().replace(hour=9))
        with self.uow() as uow:
            uow.ledger.append(Event(EventType.ADJUSTED, "TEE-1", "WH", 2, {"reason": "found"}),
                              ctx)
            uow.commit()
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            logged = uow.log.page(0, 10)[0]
        assert (logged.source, logged.actor, logged.idempotency_key, logged.correlation_id,
                logged.origin) == ("shopify", "key:sk_abc", "k-1", "c-1", "shop-a")
        assert logged.occurred_at == ctx.occurred_at and logged.recorded_at == ctx.now
        assert logged.data == {"reason": "found"}
        assert logged.as_core() == Event(EventType.ADJUSTED, "TEE-1", "WH", 2,
                                         {"reason": "found"})

    def test_positions_are_gap_free_per_tenant_in_commit_order(self) -> None:
        self.stock(on_hand=1)
        other = self.new_tenant()
        kept = self.tenant
        self.tenant = other
        self.stock(on_hand=1)
        self.tenant = kept
        for n in range(3):
            self.append(_receive(n + 1))
        with self.uow() as uow:  # rolled back: takes no position
            uow.ledger.append(_receive(100), self.ctx())
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            assert [(e.sequence, e.quantity) for e in uow.log.page(0, 10)] == \
                [(1, 1), (2, 1), (3, 2), (4, 3)]
            assert uow.log_head() == 4
        with self.uow(other, write=False) as uow:
            assert [e.sequence for e in uow.log.page(0, 10)] == [1]

    def test_concurrent_writers_get_consecutive_positions(self) -> None:
        self.stock(on_hand=0)

        def receive() -> None:
            for _ in range(5):
                self.append(_receive(1))

        threads = [threading.Thread(target=receive) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            page = uow.log.page(0, 100)
        assert [e.sequence for e in page] == list(range(1, 16))
        assert [e.on_hand_after for e in page] == list(range(1, 16))

    def test_a_page_reads_after_a_position_with_filters(self) -> None:
        self.stock("A", on_hand=1)
        self.stock("B", on_hand=2)
        self.clock.tick(60)
        self.append(Event(EventType.SOLD, "A", "WH", 1))
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            assert [e.sequence for e in uow.log.page(1, 10)] == [2, 3]
            assert [e.sequence for e in uow.log.page(0, 2)] == [1, 2]
            assert [e.sequence for e in uow.log.page(0, 10, sku="A")] == [1, 3]
            assert [e.sequence for e in uow.log.page(0, 10, types=["stock.sold"])] == [3]
            assert [e.sequence for e in uow.log.page(0, 10, location="WH")] == [1, 2, 3]
            assert uow.log.page(0, 10, location="NYC") == []
            assert [e.sequence for e in uow.log.page(0, 10, since=self.clock())] == [3]
            assert [e.sequence for e in uow.log.page(0, 10, until=self.clock())] == [1, 2]
            assert uow.log.page(0, 10, source="shopify") == []

    def test_for_sku_reads_its_history_up_to_a_position_or_a_time(self) -> None:
        self.stock("A", on_hand=1)
        self.clock.tick(60)
        self.append(_receive(2, "A"))
        self.append(_receive(3, "B"))
        self.svc.admin.drain()
        with self.uow(write=False) as uow:
            assert [e.quantity for e in uow.log.for_sku("A")] == [1, 2]
            assert [e.quantity for e in uow.log.for_sku("A", up_to_sequence=1)] == [1]
            assert [e.quantity for e in uow.log.for_sku(
                "A", recorded_until=self.clock().replace(minute=0))] == [1]

    def test_replay_streams_the_log_then_the_outbox(self) -> None:
        self.stock(on_hand=1)
        self.svc.admin.drain()
        self.append(_receive(2))
        with self.uow(write=False) as uow:
            assert [(e.sequence, e.quantity) for e in uow.log.replay_stream(batch=1)] == \
                [(1, 1), (None, 2)]
        assert self.svc.verify(self.tenant).ok
