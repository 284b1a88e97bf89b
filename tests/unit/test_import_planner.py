"""The preview planner: rows + current state -> changes, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stocksync.core.catalog import Item
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.ledger import Level
from stocksync.imports.mapping import QuantityMode
from stocksync.imports.planner import (
    AbsentAction,
    Known,
    PlanContext,
    RowStatus,
    plan_absent,
    plan_row,
)
from stocksync.imports.rows import ParsedRow

T0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
COLUMNS = {"sku": "SKU", "barcode": "EAN", "WH": "Stock WH", "NYC": "Stock NYC"}
CTX = PlanContext(QuantityMode.ABSOLUTE, T0, (
    ("shop", ChannelRules(("WH", "NYC"), safety_buffer=2)),
    ("outlet", ChannelRules(("NYC",), include=("TEE-*",)))))


def test_a_new_item_is_created_with_its_fields_and_counts() -> None:
    row = ParsedRow(2, sku="TEE-1", text={"title": "Tee"}, prices={"price": Decimal("9.5")},
                    quantities={"WH": 10, "NYC": 3})
    planned = plan_row(row, COLUMNS, CTX, Known(), {})
    assert planned.status is RowStatus.PLANNED and planned.action == "create"
    assert planned.diff["title"] == (None, "Tee") and planned.diff["price"] == (None, "9.5")
    assert [(q.location, q.before, q.after) for q in planned.quantities] == [
        ("WH", 0, 10), ("NYC", 0, 3)]
    assert planned.channels == {"shop": (0, 11), "outlet": (0, 3)}


def test_blank_cells_keep_what_the_item_has_and_equal_values_are_unchanged() -> None:
    known = Known(items={"TEE-1": Item("TEE-1", title="Tee", price=Decimal("9.5000"))},
                  levels={"TEE-1": {"WH": Level("TEE-1", "WH", on_hand=10, version=1)}})
    row = ParsedRow(2, sku="TEE-1", prices={"price": Decimal("9.5")}, quantities={"WH": 10})
    assert plan_row(row, COLUMNS, CTX, known, {}).status is RowStatus.UNCHANGED
    changed = ParsedRow(3, sku="TEE-1", text={"brand": "Acme"})
    planned = plan_row(changed, COLUMNS, CTX, known, {})
    assert planned.action == "update" and planned.diff == {"brand": (None, "Acme")}
    assert planned.item is not None and planned.item.title == "Tee"


def test_a_barcode_only_row_is_matched_to_its_item_and_an_unknown_one_is_rejected() -> None:
    known = Known(owners={"4006381333931": "TEE-1"}, items={"TEE-1": Item("TEE-1")})
    hit = plan_row(ParsedRow(2, barcode="4006381333931", quantities={"WH": 4}), COLUMNS, CTX,
                   known, {})
    assert hit.sku == "TEE-1" and hit.quantities[0].after == 4
    miss = plan_row(ParsedRow(3, barcode="96385074", quantities={"WH": 4}), COLUMNS, CTX,
                    known, {})
    assert miss.status is RowStatus.REJECTED
    assert (miss.errors[0].column, miss.errors[0].reason) == (
        "EAN", "unknown barcode 96385074: no item has it")


def test_a_duplicate_sku_is_rejected_with_the_row_it_repeats() -> None:
    seen: dict[str, int] = {}
    plan_row(ParsedRow(2, sku="A"), COLUMNS, CTX, Known(), seen)
    again = plan_row(ParsedRow(9, sku="A"), COLUMNS, CTX, Known(), seen)
    assert again.status is RowStatus.REJECTED
    assert str(again.errors[0]) == "row 9, column 'SKU': duplicate SKU A (also on row 2)"


def test_a_count_older_than_the_newest_applied_is_refused_as_stale() -> None:
    newer = Level("A", "WH", on_hand=5, version=3, last_counted_at=T0 + timedelta(hours=1))
    planned = plan_row(ParsedRow(2, sku="A", quantities={"WH": 7}), COLUMNS, CTX,
                       Known(levels={"A": {"WH": newer}}), {})
    assert planned.status is RowStatus.REJECTED
    assert planned.errors[0].column == "Stock WH" and "stale count" in planned.errors[0].reason


def test_deltas_add_to_on_hand_and_may_not_take_available_below_zero() -> None:
    ctx = PlanContext(QuantityMode.DELTA, T0)
    known = Known(levels={"A": {"WH": Level("A", "WH", on_hand=5, reserved=2, version=2)}})
    planned = plan_row(ParsedRow(2, sku="A", quantities={"WH": 4}), COLUMNS, ctx, known, {})
    assert [(q.before, q.after, q.delta) for q in planned.quantities] == [(5, 9, 4)]
    too_many = plan_row(ParsedRow(3, sku="B", quantities={"WH": -1}), COLUMNS, ctx, known, {})
    assert too_many.status is RowStatus.REJECTED
    short = plan_row(ParsedRow(4, sku="A", quantities={"WH": -4}), COLUMNS, ctx, known, {})
    assert "available 3" in short.errors[0].reason


def test_a_row_applied_by_an_earlier_import_of_the_file_is_not_planned_again() -> None:
    planned = plan_row(ParsedRow(2, sku="A", quantities={"WH": 1}), COLUMNS, CTX,
                       Known(done={2}), {})
    assert planned.status is RowStatus.APPLIED_BEFORE


def test_full_mode_zeroes_or_deletes_absent_skus_only_when_asked() -> None:
    levels = {"WH": Level("TEE-9", "WH", on_hand=6, version=1),
              "NYC": Level("TEE-9", "NYC", on_hand=0, version=1)}
    report = plan_absent("TEE-9", levels, False, AbsentAction.REPORT, CTX, 100)
    assert report.status is RowStatus.UNCHANGED and report.quantities == []
    zero = plan_absent("TEE-9", levels, False, AbsentAction.ZERO, CTX, 100)
    assert [(q.location, q.after) for q in zero.quantities] == [("WH", 0)]
    assert zero.channels == {"shop": (4, 0)}
    gone = plan_absent("TEE-9", levels, False, AbsentAction.DELETE, CTX, 100)
    assert gone.action == "delete" and gone.channels == {"shop": (4, 0)}
