"""A consumer reading "after N" never misses an event, even one that committed late."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from stocksync.app import handlers as h
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.storage.sequencer import drain, sequence_pending
from stocksync.storage.tables import outbox
from tests.conftest import new_tenant


def _setup(svc: Stocksync, tenant_id: str, skus: list[str]) -> None:
    from stocksync.core.catalog import Item, Location

    now = datetime.now(UTC)
    with svc.uow(tenant_id) as uow:
        uow.catalog.put_location(Location("WH", "WH"), now)
        for sku in skus:
            uow.catalog.put_item(Item(sku), now)
        uow.commit()


def _receive(uow: object, tenant_id: str, sku: str) -> None:
    ctx = WriteContext(tenant_id=tenant_id, now=datetime.now(UTC))
    h.record_movement(uow, ctx, h.Movement("receive", sku, "WH", 1))  # type: ignore[arg-type]


def _read(svc: Stocksync, tenant_id: str, after: int) -> list[tuple[int, str]]:
    with svc.uow(tenant_id, write=False) as uow:
        return [(e.sequence or 0, e.sku or "") for e in uow.log.page(after, 1000)]


def _pending(svc: Stocksync) -> list[tuple[int, str]]:
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.id, outbox.c.sku).order_by(outbox.c.id))
        return [(int(i), str(s)) for i, s in rows]


def test_an_event_committed_after_a_later_one_is_still_read_after_the_cursor(
        pg_svc: Stocksync) -> None:
    # PostgreSQL only: SQLite has one writer at a time, so commit order is write order there.
    svc = pg_svc
    tenant = new_tenant(svc)
    _setup(svc, tenant.id, ["EARLY", "LATE"])
    drain(svc.engine)
    head = _read(svc, tenant.id, 0)[-1][0] if _read(svc, tenant.id, 0) else 0

    slow = svc.uow(tenant.id).__enter__()  # writes first, commits last
    _receive(slow, tenant.id, "EARLY")
    with svc.uow(tenant.id) as fast:
        _receive(fast, tenant.id, "LATE")
        fast.commit()
    late_id, late_sku = _pending(svc)[0]  # EARLY is not committed, so not visible yet
    assert late_sku == "LATE"

    sequence_pending(svc.engine)
    seen = _read(svc, tenant.id, head)
    assert [sku for _, sku in seen] == ["LATE"]
    cursor = seen[-1][0]

    slow.commit()
    slow.__exit__(None, None, None)
    early_id, _ = _pending(svc)[0]
    assert early_id < late_id  # drawn first, committed last: id order is not commit order
    sequence_pending(svc.engine)
    later = _read(svc, tenant.id, cursor)
    assert [sku for _, sku in later] == ["EARLY"]
    assert later[0][0] == cursor + 1


def test_a_tailing_reader_sees_every_event_exactly_once_under_concurrent_writers(
        svc: Stocksync) -> None:
    tenant = new_tenant(svc)
    skus = [f"SKU-{i}" for i in range(8)]
    _setup(svc, tenant.id, skus)
    writes_per_thread = 40
    stop = threading.Event()
    seen: list[int] = []

    def writer(sku: str) -> None:
        for _ in range(writes_per_thread):
            with svc.uow(tenant.id) as uow:
                _receive(uow, tenant.id, sku)
                uow.commit()

    def sequencer() -> None:
        while not stop.is_set():
            if not sequence_pending(svc.engine).count:
                time.sleep(0.001)

    def reader() -> None:
        cursor = 0
        while not stop.is_set() or cursor < total:
            page = _read(svc, tenant.id, cursor)
            for seq, _ in page:
                seen.append(seq)
            if page:
                cursor = page[-1][0]
            else:
                time.sleep(0.001)

    with svc.uow(tenant.id, write=False) as uow:
        base = len(list(uow.log.replay_stream()))
    total = base + len(skus) * writes_per_thread
    threads = [threading.Thread(target=writer, args=(s,)) for s in skus]
    helpers = [threading.Thread(target=sequencer), threading.Thread(target=reader)]
    for t in threads + helpers:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 30
    while len(seen) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in helpers:
        t.join(10)
    assert seen == list(range(1, total + 1))
