"""The pure core: decisions and folds, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stocksync.core import commands as c
from stocksync.core import ledger, reservations
from stocksync.core.errors import InsufficientStock, InvalidInput, ReservationNotActive, StaleUpdate
from stocksync.core.events import EventType
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_available_is_on_hand_minus_reserved_minus_pending() -> None:
    assert Level("A", "WH", on_hand=10, reserved=3, pending=2).available == 5


def test_selling_more_than_available_is_refused_with_the_available_figure() -> None:
    with pytest.raises(InsufficientStock) as err:
        ledger.sell(Level("A", "WH", on_hand=5, reserved=4), c.Sell(2))
    assert err.value.available == 1


def test_receive_then_sell_folds_to_the_right_level() -> None:
    level = Level("A", "WH")
    level = ledger.fold(level, ledger.receive(level, c.Receive(7)))
    level = ledger.fold(level, ledger.sell(level, c.Sell(3)))
    assert (level.on_hand, level.version) == (4, 2)


def test_a_count_older_than_the_newest_count_is_stale() -> None:
    level = Level("A", "WH", on_hand=3)
    level = ledger.fold(level, ledger.count(level, c.Count(9, T0)))
    assert level.on_hand == 9 and level.last_counted_at == T0
    with pytest.raises(StaleUpdate):
        ledger.count(level, c.Count(1, T0 - timedelta(seconds=1)))
    with pytest.raises(StaleUpdate):
        ledger.count(level, c.Count(1, T0 + timedelta(1), expected_version=0))


def test_conflict_event_carries_the_reason() -> None:
    err = StaleUpdate("old", sku="A", location="WH", newest_applied="x")
    event = ledger.conflict(Level("A", "WH"), err, "stock.counted")
    assert event.type is EventType.CONFLICT_DETECTED and event.data["newest_applied"] == "x"


def test_a_transfer_is_two_legs_that_conserve_stock() -> None:
    src, dst = Level("A", "WH", on_hand=5), Level("A", "NYC")
    out_leg, in_leg = ledger.transfer(src, dst, c.Transfer(2))
    assert ledger.apply(src, out_leg).on_hand == 3 and ledger.apply(dst, in_leg).on_hand == 2
    with pytest.raises(InvalidInput):
        ledger.transfer(src, src, c.Transfer(1))
    with pytest.raises(InsufficientStock):
        ledger.transfer(src, dst, c.Transfer(6))


@pytest.mark.parametrize("quantity", [0, -1, ledger.MAX_QUANTITY + 1])
def test_quantities_out_of_range_are_invalid(quantity: int) -> None:
    with pytest.raises(InvalidInput):
        ledger.receive(Level("A", "WH"), c.Receive(quantity))


def test_reservation_lifecycle_and_refused_transitions() -> None:
    level = Level("A", "WH", on_hand=4)
    events = reservations.reserve(level, c.Reserve("r1", 3, timedelta(minutes=5)), T0)
    level = ledger.fold(level, events)
    assert level.available == 1
    res = Reservation("r1", "A", "WH", 3, ReservationStatus.ACTIVE, T0 + timedelta(minutes=5))
    committed = ledger.fold(level, reservations.commit(res, T0))
    assert (committed.on_hand, committed.reserved) == (1, 0)
    with pytest.raises(ReservationNotActive):
        reservations.commit(res, T0 + timedelta(minutes=5))  # expired by time
    with pytest.raises(ReservationNotActive):
        reservations.expire(res, T0)  # not due yet
    expired = ledger.fold(level, reservations.expire(res, T0 + timedelta(minutes=5)))
    assert expired.available == 4


def test_locations_are_tried_most_available_first() -> None:
    levels = [Level("A", "WH", on_hand=2), Level("A", "NYC", on_hand=5), Level("A", "LA")]
    assert [lv.location for lv in reservations.pick_locations("A", levels, 2)] == ["NYC", "WH"]
    with pytest.raises(InsufficientStock) as err:
        reservations.pick_locations("A", levels, 6)
    assert err.value.available == 5
    with pytest.raises(InsufficientStock):
        reservations.pick_locations("A", [], 1)
