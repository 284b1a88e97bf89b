"""Request coalescing (app/hot.py, issue 12): concurrent reservations and sales of one level,
decided in one transaction, get exactly the outcomes the general path gives them one at a
time in arrival order: the same statuses, the same `available` in each refusal, the same
levels, the same events in the same order, the same Idempotency-Key answers. SQLite (group
commit behind the writer queue) and PostgreSQL (the async store)."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from stocksync.api.errors import render_domain_error
from stocksync.api.hot import hot_path_for
from stocksync.api.routes.reservations import reservation_out
from stocksync.api.routes.stock import _render_movement
from stocksync.app import handlers as h
from stocksync.app.hot import HotPath
from stocksync.app.records import ReservationRecord, WriteContext
from stocksync.app.service import Outcome, RequestMeta, Stocksync
from stocksync.bootstrap import sql_service
from stocksync.core.catalog import Item, Location
from stocksync.core.errors import IdempotencyKeyReused
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import outbox
from tests.conftest import new_tenant

ON_HAND = 40


def _render_hold(record: Any) -> tuple[int, Any]:
    assert isinstance(record, ReservationRecord)
    return 201, reservation_out(record, record.created_at).model_dump(mode="json")


def _stock(svc: Stocksync, tenant_id: str, units: int) -> None:
    now = svc.clock()
    with svc.uow(tenant_id) as uow:
        uow.catalog.put_location(Location("WH", "Warehouse"), now)
        uow.catalog.put_item(Item("HOT", title="hot"), now)
        h.record_movement(uow, WriteContext(tenant_id=tenant_id, now=now, source="test"),
                          h.Movement("receive", "HOT", "WH", units))
        uow.commit()


def _requests(seed: int) -> list[dict[str, Any]]:
    """Holds and sales of 1-3 units, some retried with their key, one key reused with
    another body: more than the stock, so the tail is refused."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(36):
        op = rng.choice(["reserve", "reserve", "sale"])
        out.append({"op": op, "quantity": rng.randint(1, 3), "key": f"k{i}"})
        if i % 7 == 3:
            out.append(dict(out[-1]))  # a retry of the same request in the same burst
    out.insert(10, {"op": "sale", "quantity": 2, "key": "k2"})  # k2 with another body
    return out


def _meta(tenant: str, r: dict[str, Any]) -> RequestMeta:
    body = json.dumps({"op": r["op"], "quantity": r["quantity"]}).encode()
    return RequestMeta(source="api", actor="key:test", idempotency_key=r["key"],
                       fingerprint=RequestMeta.fingerprint_of("POST", "/x", body),
                       correlation_id=f"c-{tenant[:6]}")


def _general(svc: Stocksync, tenant: str, r: dict[str, Any]) -> Outcome | str:
    meta = _meta(tenant, r)
    try:
        if r["op"] == "reserve":
            return svc.reserve(tenant, meta, h.NewReservation("HOT", r["quantity"], "WH"),
                               _render_hold, render_domain_error)
        movement = h.Movement("sale", "HOT", "WH", r["quantity"])
        return svc.execute(tenant, meta, lambda uow, ctx: h.record_movement(uow, ctx, movement),
                           _render_movement, render_domain_error)
    except IdempotencyKeyReused:
        return "idempotency_key_reused"


async def _coalesced(hot: HotPath, tenant: str, reqs: list[dict[str, Any]]
                     ) -> list[Outcome | str]:
    async def one(r: dict[str, Any]) -> Outcome | str:
        meta = _meta(tenant, r)
        try:
            if r["op"] == "reserve":
                return await hot.reserve(tenant, meta, h.NewReservation(
                    "HOT", r["quantity"], "WH"), _render_hold, render_domain_error)
            return await hot.sell(tenant, meta, "HOT", "WH", r["quantity"], _render_movement,
                                  render_domain_error)
        except IdempotencyKeyReused:
            return "idempotency_key_reused"

    try:
        # Created in arrival order in one tick: the first runs alone, the rest form batches.
        return list(await asyncio.gather(*(one(r) for r in reqs)))
    finally:
        await hot.close()


def _comparable(outcome: Outcome | str) -> Any:
    """What must match: status, replay flag, and the body without ids and times."""
    if isinstance(outcome, str):
        return outcome
    body = json.loads(outcome.body)
    for key in ("id", "expires_at", "created_at"):
        body.pop(key, None)
    for event in body.get("events", []):
        event.pop("event_id")
    return outcome.status, outcome.replayed, body


def _log(svc: Stocksync, tenant: str) -> list[tuple[Any, ...]]:
    drain(svc.engine)
    with svc.uow(tenant, write=False) as uow:
        return [(e.type, e.quantity, e.on_hand_after, e.reserved_after)
                for e in uow.log.page(0, 1000)]


def test_coalesced_batch_decides_like_serial_execution(svc: Stocksync) -> None:
    serial, batched = new_tenant(svc, "serial").id, new_tenant(svc, "batched").id
    for tenant in (serial, batched):
        _stock(svc, tenant, ON_HAND)
    reqs = _requests(11)
    expected = [_general(svc, serial, r) for r in reqs]
    hot = hot_path_for(svc)
    got = asyncio.run(_coalesced(hot, batched, reqs))
    assert [_comparable(o) for o in got] == [_comparable(o) for o in expected]
    statuses = [o.status for o in got if isinstance(o, Outcome)]
    assert 409 in statuses and 201 in statuses  # the stock ran out part-way
    assert "idempotency_key_reused" in got
    assert _log(svc, batched) == _log(svc, serial)
    assert svc.verify(batched).ok


def test_concurrent_retries_of_one_key_take_effect_once(svc: Stocksync) -> None:
    tenant = new_tenant(svc).id
    _stock(svc, tenant, 5)
    reqs = [{"op": "reserve", "quantity": 2, "key": "same"}] * 20
    got = asyncio.run(_coalesced(hot_path_for(svc), tenant, reqs))
    assert all(isinstance(o, Outcome) and o.status == 201 for o in got)
    assert sum(not o.replayed for o in got if isinstance(o, Outcome)) == 1
    assert len({o.body for o in got if isinstance(o, Outcome)}) == 1
    assert [e[:2] for e in _log(svc, tenant)] == [("stock.received", 5), ("stock.reserved", 2)]
    # later, the same key again: the remembered answer, no second hold
    again = asyncio.run(_coalesced(hot_path_for(svc), tenant, reqs[:1]))[0]
    assert isinstance(again, Outcome) and again.replayed and again.body == got[0].body


def test_a_refusal_is_remembered_for_its_key(svc: Stocksync) -> None:
    tenant = new_tenant(svc).id
    _stock(svc, tenant, 1)
    reqs = [{"op": "sale", "quantity": 3, "key": "too-many"}]
    first = asyncio.run(_coalesced(hot_path_for(svc), tenant, reqs))[0]
    assert isinstance(first, Outcome) and first.status == 409
    assert json.loads(first.body)["details"]["available"] == 1
    _stock_more(svc, tenant, 10)
    again = asyncio.run(_coalesced(hot_path_for(svc), tenant, reqs))[0]
    assert isinstance(again, Outcome) and again.replayed and again.body == first.body


def _stock_more(svc: Stocksync, tenant: str, units: int) -> None:
    with svc.uow(tenant) as uow:
        h.record_movement(uow, WriteContext(tenant_id=tenant, now=svc.clock(), source="t"),
                          h.Movement("receive", "HOT", "WH", units))
        uow.commit()


def test_holds_past_their_expiry_are_expired_before_the_batch_decides(svc: Stocksync) -> None:
    moment = [datetime.now(UTC)]
    timed = sql_service(svc.engine, svc.settings, lambda: moment[0])
    tenant = new_tenant(timed).id
    _stock(timed, tenant, 3)
    short = {"op": "reserve", "quantity": 3, "key": "short"}

    async def hold_then_buy() -> list[Outcome | str]:
        hot = hot_path_for(timed)
        meta = _meta(tenant, short)
        first = await hot.reserve(tenant, meta, h.NewReservation(
            "HOT", 3, "WH", ttl=timedelta(seconds=1)), _render_hold, render_domain_error)
        moment[0] += timedelta(seconds=2)  # the hold is due; the expirer has not run
        return [first, *await _coalesced(hot, tenant, [
            {"op": "sale", "quantity": 2, "key": "buy"},
            {"op": "reserve", "quantity": 1, "key": "hold"},
            {"op": "sale", "quantity": 1, "key": "late"}])]

    got = asyncio.run(hold_then_buy())
    assert [o.status for o in got if isinstance(o, Outcome)] == [201, 201, 201, 409]
    types = [e[0] for e in _log(timed, tenant)]
    assert types == ["stock.received", "stock.reserved", "stock.expired", "stock.sold",
                     "stock.reserved"]
    assert timed.verify(tenant).ok


def test_unknown_item_location_and_deleted_item_are_refused_like_alone(svc: Stocksync) -> None:
    tenant = new_tenant(svc).id
    _stock(svc, tenant, 5)
    hot = hot_path_for(svc)

    async def run() -> list[Outcome]:
        meta = _meta(tenant, {"op": "sale", "quantity": 1, "key": None})
        try:
            return [await hot.sell(tenant, meta, sku, loc, 1, _render_movement,
                                   render_domain_error)
                    for sku, loc in (("NOPE", "WH"), ("HOT", "NOWHERE"))]
        finally:
            await hot.close()

    unknown_sku, unknown_loc = asyncio.run(run())
    assert (unknown_sku.status, json.loads(unknown_sku.body)["error"]) == (404, "unknown_sku")
    assert (unknown_loc.status, json.loads(unknown_loc.body)["error"]) == (
        404, "unknown_location")
    with svc.engine.connect() as conn:
        assert conn.execute(select(outbox.c.type).where(outbox.c.tenant_id == tenant)
                            ).all() == [("stock.received",)]


@pytest.mark.parametrize("count", [64])
def test_a_burst_on_one_level_is_coalesced(svc: Stocksync, count: int) -> None:
    tenant = new_tenant(svc).id
    _stock(svc, tenant, 1000)
    from stocksync.app.coalesce import BATCH_SIZE

    before = BATCH_SIZE._sum.get()  # type: ignore[attr-defined]
    batches = sum(b.get() for b in BATCH_SIZE._buckets)  # type: ignore[attr-defined]
    reqs = [{"op": "sale", "quantity": 1, "key": f"s{i}"} for i in range(count)]
    got = asyncio.run(_coalesced(hot_path_for(svc), tenant, reqs))
    assert all(isinstance(o, Outcome) and o.status == 201 for o in got)
    used = sum(b.get() for b in BATCH_SIZE._buckets) - batches  # type: ignore[attr-defined]
    assert BATCH_SIZE._sum.get() - before == count  # type: ignore[attr-defined]
    assert used <= 3  # the first alone, the rest together (maybe split once by timing)
    levels = [e[2] for e in _log(svc, tenant)]
    assert levels == list(range(1000, 1000 - count - 1, -1))  # one event each, in order
