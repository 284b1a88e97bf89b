"""A lane's run of channel sales is applied in one transaction (app/ingest_batch.py, issue 12
item 4), on SQLite and PostgreSQL: every sale once, a refused one on the single path with
the others applied, the same sales delivered again change nothing, and a failure injected
mid-batch (a savepoint, the commit, the settle) loses and doubles nothing.

The deliveries are real signed Shopify orders/create webhooks kept in the inbox; the real
ingest worker's lanes claim and apply them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import anyio
import pytest

from stocksync.app import ingest_batch
from stocksync.app.ingest import Ingestor
from stocksync.app.ports import NewDelivery, UnitOfWork, UnitOfWorkFactory
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service, credential_box
from stocksync.config import Settings
from stocksync.core.catalog import Item, Location
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.ingest.shopify import shopify_hmac
from stocksync.storage.sequencer import drain
from stocksync.workers.ingest import IngestWorker

SECRET = "batch-webhook-secret"
CODE = "web"


class Counting:
    """The service's unit-of-work factory, counting write transactions; it can make the
    commit of the next write transaction fail once (a lost connection at COMMIT)."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self.inner = inner
        self.reserves_in_one_statement = inner.reserves_in_one_statement
        self.writes = 0
        self.fail_next_commit = False

    def __call__(self, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None) -> UnitOfWork:
        uow = self.inner(tenant_id, write=write, on_commit=on_commit)
        if not write:
            return uow
        self.writes += 1
        if self.fail_next_commit:
            self.fail_next_commit = False
            return _CommitFails(uow)  # type: ignore[return-value]
        return uow

    def snapshot(self, tenant_id: str) -> UnitOfWork:
        return self.inner.snapshot(tenant_id)


class _CommitFails:
    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __enter__(self) -> _CommitFails:
        self._inner.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> None:
        raise ConnectionError("the connection was lost at COMMIT (injected)")


@pytest.fixture
def shop(db_settings: Settings) -> Iterator[tuple[Stocksync, str, Counting]]:
    """A tenant selling TEE (WH 30, NYC 20) and CAP (WH 3) through a Shopify channel whose
    online orders are taken where most is available."""
    svc = build_service(db_settings)
    counting = Counting(svc.uows)
    svc.uows = counting
    tenant = svc.tenants.create_tenant("batch-shop", svc.clock()).id
    now = svc.clock()
    with svc.uow(tenant) as uow:
        for code in ("WH", "NYC"):
            uow.catalog.put_location(Location(code, code), now)
        for sku in ("TEE", "CAP"):
            uow.catalog.put_item(Item(sku, title=sku), now)
        uow.channels.add(Channel(tenant, CODE, ChannelKind.SHOPIFY, "Web shop",
                                 ChannelRules(("WH", "NYC"))), None, 0, now)
        uow.commit()
    from stocksync.app import handlers as h
    from stocksync.app.records import WriteContext
    with svc.uow(tenant) as uow:
        ctx = WriteContext(tenant_id=tenant, now=now, source="test")
        for sku, location, units in (("TEE", "WH", 30), ("TEE", "NYC", 20), ("CAP", "WH", 3)):
            h.record_movement(uow, ctx, h.Movement("receive", sku, location, units))
        uow.commit()
    try:
        yield svc, tenant, counting
    finally:
        svc.engine.dispose()


def order(order_id: int, lines: list[tuple[str, int]], webhook_id: str) -> tuple[
        dict[str, str], bytes]:
    body = json.dumps({
        "id": order_id, "name": f"#{order_id}", "created_at": "2026-03-01T12:00:00Z",
        "location_id": None, "note_attributes": [],
        "line_items": [{"id": order_id * 10 + i, "sku": sku, "quantity": quantity}
                       for i, (sku, quantity) in enumerate(lines)]}).encode()
    return {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": webhook_id,
            "x-shopify-hmac-sha256": shopify_hmac(SECRET, body)}, body


def deliver(svc: Stocksync, tenant: str, orders: list[tuple[int, list[tuple[str, int]]]],
            prefix: str = "w") -> list[int]:
    kept = svc.inbox.keep([NewDelivery(tenant, CODE, "shopify", f"{prefix}-{n}",
                                       "orders/create", *order(n, lines, f"{prefix}-{n}"))
                           for n, lines in orders], svc.clock())
    assert None not in kept
    return [k for k in kept if k is not None]


def work(svc: Stocksync) -> None:
    """Let the ingest worker claim and apply everything due (its lanes, as in `run`)."""
    worker = IngestWorker(svc, credential_box(svc.settings))
    ingestor = Ingestor(svc, worker.fetch, worker.connector)

    async def main() -> None:
        for _ in range(10):
            async with anyio.create_task_group() as tasks:
                batch = worker._claim(frozenset())
                if not batch:
                    return
                worker._enqueue(tasks, ingestor, batch)

    anyio.run(main)


def levels(svc: Stocksync, tenant: str) -> dict[tuple[str, str], int]:
    with svc.uow(tenant, write=False) as uow:
        return {(lv.sku, lv.location): lv.on_hand
                for lv in uow.ledger.levels(["TEE", "CAP"], svc.clock())}


def sold(svc: Stocksync, tenant: str) -> list[tuple[str | None, str | None, int]]:
    drain(svc.engine)
    with svc.uow(tenant, write=False) as uow:
        return [(e.sku, e.location, e.quantity)
                for e in uow.log.page(0, 1000, types=["stock.sold"])]


def statuses(svc: Stocksync, tenant: str) -> dict[str, str]:
    return {d.delivery_id: d.status for d in svc.inbox.listing(tenant, None, 0, 1000)}


SALES = [(n, [("TEE", 1)] if n % 2 else [("TEE", 1), ("CAP", 0), ("TEE", 2)])
         for n in range(1, 21)]  # 10 orders of 1 TEE, 10 of 1+2 TEE (and a zero line)
SOLD_TEE = 10 * 1 + 10 * 3


def test_a_lane_of_sales_is_applied_in_one_transaction_each_sale_once(
        shop: tuple[Stocksync, str, Counting], monkeypatch: pytest.MonkeyPatch) -> None:
    svc, tenant, counting = shop
    monkeypatch.setattr(ingest_batch, "BUDGET_SECONDS", 60.0)  # however slow the machine
    deliver(svc, tenant, SALES)
    before = counting.writes
    work(svc)
    assert counting.writes - before == 1  # the one write transaction of the whole batch
    assert set(statuses(svc, tenant).values()) == {"done"}
    assert sum(q for sku, _, q in sold(svc, tenant) if sku == "TEE") == SOLD_TEE
    assert len(sold(svc, tenant)) == 30  # one event per line sold
    # Each sale taken where most was available, counting the batch's sales before it:
    # 50 TEE at WH 30 / NYC 20 less 40 ends evenly.
    after = levels(svc, tenant)
    assert after[("TEE", "WH")] + after[("TEE", "NYC")] == 50 - SOLD_TEE
    assert abs(after[("TEE", "WH")] - after[("TEE", "NYC")]) <= 2
    assert svc.verify(tenant).ok


def test_a_batch_out_of_time_leaves_the_rest_to_the_next_in_order(
        shop: tuple[Stocksync, str, Counting], monkeypatch: pytest.MonkeyPatch) -> None:
    svc, tenant, counting = shop
    monkeypatch.setattr(ingest_batch, "BUDGET_SECONDS", 0.0)  # one delivery per batch
    deliver(svc, tenant, SALES)
    before = counting.writes
    work(svc)
    assert counting.writes - before == len(SALES)  # none took the single path
    assert set(statuses(svc, tenant).values()) == {"done"}
    drain(svc.engine)
    with svc.uow(tenant, write=False) as uow:
        keys = [e.idempotency_key for e in uow.log.page(0, 1000, types=["stock.sold"])]
    # In the lane's order: order 1's line, order 2's two lines, ...
    assert keys == [f"ingest:{CODE}:shopify:{n}:{n * 10 + i}" for n, lines in SALES
                    for i, (_, quantity) in enumerate(lines) if quantity]
    assert svc.verify(tenant).ok


def test_a_refused_sale_takes_the_single_path_and_the_others_are_applied(
        shop: tuple[Stocksync, str, Counting]) -> None:
    svc, tenant, _ = shop
    orders = [(n, [("TEE", 1)]) for n in range(1, 11)]
    orders.insert(4, (99, [("TEE", 1), ("CAP", 5)]))  # CAP: 5 of 3 -> oversold
    deliver(svc, tenant, orders)
    work(svc)
    got = statuses(svc, tenant)
    assert got.pop("w-99") == "failed"  # dead-lettered as today, with its conflict
    assert set(got.values()) == {"done"}
    after = levels(svc, tenant)
    # The 10 good orders, and the oversold order's first line (the single path applies
    # each line in its own transaction, as before).
    assert after[("TEE", "WH")] + after[("TEE", "NYC")] == 50 - 11
    assert after[("CAP", "WH")] == 3
    drain(svc.engine)
    with svc.uow(tenant, write=False) as uow:
        conflicts = uow.log.page(0, 100, types=["conflict.detected"])
    assert [c.data.get("requested") for c in conflicts] == [5]
    assert svc.verify(tenant).ok


def test_the_same_sales_delivered_again_change_nothing(
        shop: tuple[Stocksync, str, Counting]) -> None:
    svc, tenant, _ = shop
    ids = deliver(svc, tenant, SALES)
    work(svc)
    once = (levels(svc, tenant), sold(svc, tenant))
    deliver(svc, tenant, SALES, prefix="again")  # the same orders, other webhook ids
    for delivery_id in ids[:5]:
        svc.inbox.replay(delivery_id)  # and some of the very same deliveries
    work(svc)
    assert (levels(svc, tenant), sold(svc, tenant)) == once
    assert set(statuses(svc, tenant).values()) == {"done"}
    assert svc.verify(tenant).ok


def test_a_sale_failing_inside_the_batch_is_undone_alone_and_applied_once_later(
        shop: tuple[Stocksync, str, Counting], monkeypatch: pytest.MonkeyPatch) -> None:
    svc, tenant, _ = shop
    calls: list[str] = []
    real = ingest_batch.sell

    def flaky(uow: UnitOfWork, ctx: Any, channel: Channel, m: Any, location: str) -> Any:
        calls.append(m.key)
        if len(calls) == 8:  # the 2nd line of a 3-line order: its 1st line is undone too
            raise RuntimeError("injected")
        return real(uow, ctx, channel, m, location)

    monkeypatch.setattr(ingest_batch, "sell", flaky)
    deliver(svc, tenant, SALES)
    work(svc)
    assert set(statuses(svc, tenant).values()) == {"done"}
    assert sum(q for sku, _, q in sold(svc, tenant) if sku == "TEE") == SOLD_TEE
    assert len(sold(svc, tenant)) == 30
    assert svc.verify(tenant).ok


@pytest.mark.parametrize("failing", ["commit", "settle"])
def test_a_batch_whose_commit_or_settle_fails_loses_and_doubles_nothing(
        shop: tuple[Stocksync, str, Counting], monkeypatch: pytest.MonkeyPatch,
        failing: str) -> None:
    svc, tenant, counting = shop
    if failing == "commit":
        counting.fail_next_commit = True
    else:
        real = svc.inbox.settle_many
        failed: list[bool] = []

        def settle_many(ids: Any, now: Any) -> None:
            if not failed:
                failed.append(True)
                raise ConnectionError("the inbox could not be reached (injected)")
            real(ids, now)

        monkeypatch.setattr(svc.inbox, "settle_many", settle_many)
    deliver(svc, tenant, SALES)
    work(svc)
    assert set(statuses(svc, tenant).values()) == {"done"}
    assert sum(q for sku, _, q in sold(svc, tenant) if sku == "TEE") == SOLD_TEE
    assert len(sold(svc, tenant)) == 30
    assert svc.verify(tenant).ok
