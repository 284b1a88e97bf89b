"""The pure part of request coalescing (app/coalesce.py): `plan` decides a batch one write
at a time in arrival order, and the Coalescer forms batches (the first write of an idle
level alone, what arrives meanwhile together). The async store has the port's methods."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from stocksync.app.coalesce import Coalescer, HotWrite, LevelState, plan
from stocksync.app.hot_ports import AsyncStore
from stocksync.app.records import StoredResponse
from stocksync.core.errors import InsufficientStock, ItemDeleted
from stocksync.core.ledger import Level
from stocksync.core.reservations import ReservationKind
from stocksync.storage.async_pg import PgAsyncStore

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _write(op: str, quantity: int, key: str | None = None) -> HotWrite:
    return HotWrite(op, "A", "WH", quantity, key, f"fp-{op}-{quantity}",  # type: ignore[arg-type]
                    None, lambda r: (201, {}), lambda e: (409, {}))


def _state(on_hand: int, **kw: Any) -> LevelState:
    base: dict[str, Any] = {"stored": Level("A", "WH", on_hand=on_hand, version=3), "due": 0,
                            "item_deleted": False, "location_exists": True, "taken": {}}
    return LevelState(**{**base, **kw})


def _ttl(kind: ReservationKind) -> timedelta:
    return timedelta(minutes=5)


def test_each_write_is_decided_against_what_the_earlier_ones_left() -> None:
    writes = [_write("reserve", 2), _write("sale", 2), _write("reserve", 2),
              _write("sale", 1)]
    done = plan(_state(5), writes, "t", NOW, _ttl)
    assert [p.event.type.value if p.event else None for p in done] == [
        "stock.reserved", "stock.sold", None, "stock.sold"]
    refused = done[2].error
    assert isinstance(refused, InsufficientStock) and refused.details["available"] == 1
    after = [p.level_after for p in done if p.level_after]
    assert [(lv.on_hand, lv.reserved, lv.version) for lv in after] == [
        (5, 2, 4), (3, 2, 5), (2, 2, 6)]
    assert done[0].record is not None and done[0].record.reservation.quantity == 2


def test_keys_answered_before_or_earlier_in_the_batch_are_not_decided_again() -> None:
    stored = StoredResponse("fp-sale-1", 201, '{"x": 1}')
    writes = [_write("sale", 1, "old"), _write("sale", 1, "new"), _write("sale", 1, "new")]
    done = plan(_state(5, taken={"old": stored}), writes, "t", NOW, _ttl)
    assert done[0].replay == stored and done[0].event is None
    assert done[1].event is not None
    assert done[2].same_as == 1 and done[2].event is None


def test_a_deleted_item_is_refused_before_stock_is_looked_at() -> None:
    done = plan(_state(0, item_deleted=True), [_write("sale", 1)], "t", NOW, _ttl)
    assert isinstance(done[0].error, ItemDeleted)


def test_the_first_write_runs_alone_and_the_rest_ride_the_next_batch() -> None:
    seen: list[int] = []

    async def run(key: Hashable, batch: list[HotWrite]) -> None:
        seen.append(len(batch))
        await asyncio.sleep(0.01)  # the transaction in flight
        for w in batch:
            assert w.future is not None
            w.future.set_result(w.quantity)

    async def burst() -> list[Any]:
        coalescer = Coalescer(run)
        first = asyncio.ensure_future(coalescer.submit("level", _write("sale", 1)))
        await asyncio.sleep(0.002)  # its transaction is in flight now
        rest = await asyncio.gather(*(coalescer.submit("level", _write("sale", i))
                                      for i in range(2, 11)))
        other = await coalescer.submit("other level", _write("sale", 11))
        return [await first, *rest, other]

    assert asyncio.run(burst()) == list(range(1, 12))
    assert seen == [1, 9, 1]


def test_the_postgresql_store_has_the_ports_methods() -> None:
    for name, member in inspect.getmembers(AsyncStore, inspect.isfunction):
        if name.startswith("_"):
            continue
        mine = getattr(PgAsyncStore, name)
        assert list(inspect.signature(mine).parameters) == list(
            inspect.signature(member).parameters), name
