"""The command handlers (app/handlers.py) and the service around them, on the memory
twin: what each command does to the ledger, and how each refusal is typed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from stocksync.app import handlers as h
from stocksync.app.service import RequestMeta
from stocksync.core.errors import (
    DomainError,
    IdempotencyKeyReused,
    InsufficientStock,
    ItemDeleted,
    ReservationNotActive,
    UnknownLocation,
    UnknownSku,
)
from stocksync.core.reservations import ReservationStatus
from tests.unit.memory_shop import Shop


def test_a_sale_takes_stock_once_and_is_logged() -> None:
    shop = Shop()
    shop.item("TEE", WH=5)
    done = shop.move(h.Movement("sale", "TEE", "WH", 2))
    assert [(a.on_hand, a.version) for a in done.applied] == [(3, 2)]
    assert shop.on_hand("TEE") == 3
    assert shop.log_types() == ["stock.received", "stock.sold"]
    assert shop.svc.verify(shop.tenant).ok


def test_a_sale_beyond_what_is_available_is_refused_with_what_is_there() -> None:
    shop = Shop()
    shop.item("TEE", WH=2)
    with pytest.raises(InsufficientStock) as refused:
        shop.move(h.Movement("sale", "TEE", "WH", 3))
    assert refused.value.details["available"] == 2
    assert shop.on_hand("TEE") == 2
    assert shop.log_types() == ["stock.received"]


@pytest.mark.parametrize(("movement", "error"), [
    (h.Movement("sale", "NOPE", "WH", 1), UnknownSku),
    (h.Movement("receive", "TEE", "MARS", 1), UnknownLocation),
    (h.Movement("transfer", "TEE", "WH", 1, to_location="MARS"), UnknownLocation),
])
def test_unknown_items_and_locations_are_refused(movement: h.Movement,
                                                 error: type[DomainError]) -> None:
    shop = Shop()
    shop.item("TEE", WH=1)
    with pytest.raises(error):
        shop.move(movement)


def test_a_deleted_item_cannot_be_sold_but_can_be_received() -> None:
    shop = Shop()
    shop.item("TEE", WH=3)
    with shop.svc.uow(shop.tenant) as uow:
        uow.catalog.set_deleted("TEE", shop.clock(), shop.clock())
        uow.commit()
    with pytest.raises(ItemDeleted):
        shop.move(h.Movement("sale", "TEE", "WH", 1))
    shop.move(h.Movement("receive", "TEE", "WH", 1))
    assert shop.on_hand("TEE") == 4


def test_a_transfer_moves_stock_between_locations() -> None:
    shop = Shop()
    shop.item("TEE", WH=5)
    done = shop.move(h.Movement("transfer", "TEE", "WH", 2, to_location="NYC"))
    assert len(done.applied) == 2
    assert (shop.on_hand("TEE", "WH"), shop.on_hand("TEE", "NYC")) == (3, 2)
    with pytest.raises(InsufficientStock):
        shop.move(h.Movement("transfer", "TEE", "WH", 4, to_location="NYC"))


def test_a_stale_count_is_refused_and_recorded_as_a_conflict() -> None:
    shop = Shop()
    shop.item("TEE", WH=5)
    shop.move(h.Movement("count", "TEE", "WH", 7, occurred_at=shop.clock()))
    older = shop.clock() - timedelta(hours=1)
    outcome = shop.svc.execute(
        shop.tenant, RequestMeta(), lambda uow, ctx: h.record_movement(
            uow, ctx, h.Movement("count", "TEE", "WH", 1, occurred_at=older)),
        lambda r: (201, {}), lambda e: (409, {"error": type(e).__name__}))
    assert (outcome.status, json.loads(outcome.body)) == (409, {"error": "StaleWithConflict"})
    assert shop.on_hand("TEE") == 7
    assert shop.log_types()[-1] == "conflict.detected"


def test_a_hold_at_a_location_takes_available_at_commit() -> None:
    shop = Shop()
    shop.item("TEE", WH=3)
    with shop.svc.uow(shop.tenant) as uow:
        record = h.reserve(uow, shop.ctx(), h.NewReservation("TEE", 2, "WH"),
                           timedelta(minutes=5))
        assert shop.available("TEE") == 3  # taken by the deferred step, at commit
        uow.commit()
    assert record.reservation.status is ReservationStatus.ACTIVE
    assert shop.available("TEE") == 1
    with pytest.raises(InsufficientStock), shop.svc.uow(shop.tenant) as uow:
        h.reserve(uow, shop.ctx(), h.NewReservation("TEE", 2, "WH"), timedelta(minutes=5))
        uow.commit()
    assert shop.available("TEE") == 1


def test_a_hold_without_a_location_takes_the_one_with_most_available() -> None:
    shop = Shop()
    shop.item("TEE", WH=1, NYC=4)
    with shop.svc.uow(shop.tenant) as uow:
        record = h.reserve(uow, shop.ctx(), h.NewReservation("TEE", 2), timedelta(minutes=5))
        uow.commit()
    assert record.reservation.location == "NYC"
    assert shop.available("TEE", "NYC") == 2


def test_a_hold_is_committed_once_and_cannot_then_be_released() -> None:
    shop = Shop()
    shop.item("TEE", WH=3)
    with shop.svc.uow(shop.tenant) as uow:
        rid = h.reserve(uow, shop.ctx(), h.NewReservation("TEE", 2, "WH"),
                        timedelta(minutes=5)).reservation.id
        uow.commit()
    for _ in range(2):  # the second commit is a no-op
        with shop.svc.uow(shop.tenant) as uow:
            h.resolve_reservation(uow, shop.ctx(), rid, ReservationStatus.COMMITTED)
            uow.commit()
    assert (shop.on_hand("TEE"), shop.available("TEE")) == (1, 1)
    with pytest.raises(ReservationNotActive), shop.svc.uow(shop.tenant) as uow:
        h.resolve_reservation(uow, shop.ctx(), rid, ReservationStatus.RELEASED)


def test_the_expirer_gives_back_holds_past_their_expiry() -> None:
    shop = Shop()
    shop.item("TEE", WH=3)
    with shop.svc.uow(shop.tenant) as uow:
        h.reserve(uow, shop.ctx(), h.NewReservation("TEE", 3, "WH"), timedelta(minutes=5))
        uow.commit()
    assert shop.svc.expire_due() == 0
    shop.clock.tick(301)
    assert shop.available("TEE") == 3  # a reader no longer counts it
    assert shop.svc.expire_due() == 1
    assert shop.log_types()[-1] == "stock.expired"
    assert shop.svc.verify(shop.tenant).ok


def test_a_request_with_an_idempotency_key_runs_once() -> None:
    shop = Shop()
    shop.item("TEE", WH=5)
    meta = RequestMeta(idempotency_key="k-1", fingerprint="sale of 1")

    def sell() -> object:
        return shop.svc.execute(
            shop.tenant, meta, lambda uow, ctx: h.record_movement(
                uow, ctx, h.Movement("sale", "TEE", "WH", 1)),
            lambda r: (201, {"on_hand": r.applied[0].on_hand}), lambda e: (409, {}))

    first, again = sell(), sell()
    assert (first.status, first.body, first.replayed) == (201, '{"on_hand": 4}', False)  # type: ignore[attr-defined]
    assert again.replayed and again.body == first.body  # type: ignore[attr-defined]
    assert shop.on_hand("TEE") == 4
    with pytest.raises(IdempotencyKeyReused):
        shop.svc.execute(shop.tenant, RequestMeta(idempotency_key="k-1", fingerprint="other"),
                         lambda uow, ctx: None, lambda r: (200, {}), lambda e: (409, {}))


def test_levels_as_of_replays_the_history_of_a_sku() -> None:
    shop = Shop()
    shop.item("TEE", WH=5)
    shop.move(h.Movement("sale", "TEE", "WH", 2))
    shop.svc.admin.drain()
    with shop.svc.uow(shop.tenant, write=False) as uow:
        then = h.levels_as_of(uow, "TEE", sequence=1, until=None)
        now = h.levels_as_of(uow, "TEE", sequence=None, until=None)
    assert [lv.on_hand for lv in then] == [5] and [lv.on_hand for lv in now] == [3]
