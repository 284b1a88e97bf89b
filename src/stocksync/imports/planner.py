"""The preview as a pure function: parsed rows + what the catalog and ledger hold now ->
what applying would change, row by row. No I/O: the caller loads `Known` for each chunk."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from stocksync.core.catalog import Image, Item
from stocksync.core.channel_rules import ChannelRules, SkuState, channel_quantity
from stocksync.core.ledger import Level
from stocksync.core.skus import is_valid_sku
from stocksync.imports.barcodes import lookup_forms
from stocksync.imports.mapping import QuantityMode
from stocksync.imports.rows import ParsedRow, RowError


class RowStatus(StrEnum):
    PLANNED = "planned"  # something to apply
    UNCHANGED = "unchanged"  # the catalog and stock already say what the row says
    REJECTED = "rejected"
    SKIPPED = "skipped"  # no variant on the row (a Shopify image row)
    APPLIED_BEFORE = "applied_before"  # this file's row was applied by an earlier import
    APPLIED = "applied"
    REFUSED = "refused"  # rejected at apply time (the ledger refused it meanwhile)


class AbsentAction(StrEnum):
    REPORT = "report"
    ZERO = "zero"  # count every location of the SKU to 0
    DELETE = "delete"  # soft delete: off every channel, restorable


@dataclass(frozen=True, slots=True)
class QuantityChange:
    location: str
    before: int  # on hand now
    after: int
    delta: int | None = None  # set when the file gives deltas


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What is the same for every row of one import."""

    quantity_mode: QuantityMode
    counted_at: datetime  # when the file's counts were taken (stale-count check)
    channels: tuple[tuple[str, ChannelRules], ...] = ()


@dataclass
class Known:
    """The current state of the SKUs one chunk names."""

    items: dict[str, Item] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # barcode -> SKU
    levels: dict[str, dict[str, Level]] = field(default_factory=dict)  # sku -> location ->
    done: set[int] = field(default_factory=set)  # rows applied by an earlier import


@dataclass
class PlannedRow:
    number: int
    sku: str | None
    status: RowStatus
    action: str | None = None  # create | update | delete (the item), None: stock only
    item: Item | None = None
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    quantities: list[QuantityChange] = field(default_factory=list)
    channels: dict[str, tuple[int, int]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def plan_row(row: ParsedRow, columns: dict[str, str], ctx: PlanContext, known: Known,
             seen: dict[str, int]) -> PlannedRow:
    """Plan one row. `columns` names the header of `sku`, `barcode` and each location's
    quantity (for messages); `seen` (SKU -> first row) is updated, to report duplicates."""
    sku_column = columns.get("sku", "sku")
    sku, errors = _resolve_sku(row, sku_column, columns.get("barcode", "barcode"), known)
    if sku is None and not errors:
        return PlannedRow(row.number, None, RowStatus.SKIPPED)
    if sku is not None:
        first = seen.setdefault(sku, row.number)
        if first != row.number:
            errors.append(RowError(row.number, sku_column,
                                   f"duplicate SKU {sku} (also on row {first})"))
    errors += row.errors
    existing = known.items.get(sku) if sku else None
    levels = known.levels.get(sku, {}) if sku else {}
    quantities = _quantities(row, levels, ctx, columns, errors) if sku else []
    if errors or sku is None:
        return PlannedRow(row.number, sku, RowStatus.REJECTED, errors=errors)
    if row.number in known.done:
        return PlannedRow(row.number, sku, RowStatus.APPLIED_BEFORE)
    item, diff = _item_change(row, sku, existing)
    action = None if not diff else ("create" if existing is None else "update")
    planned = PlannedRow(row.number, sku, RowStatus.PLANNED, action,
                         item if action else None, diff, quantities)
    if not action and not quantities:
        planned.status = RowStatus.UNCHANGED
    planned.channels = channel_changes(ctx, sku, levels, quantities,
                                       existing is not None and existing.is_deleted)
    return planned


def plan_absent(sku: str, levels: dict[str, Level], deleted: bool, action: AbsentAction,
                ctx: PlanContext, number: int) -> PlannedRow:
    """A SKU the full file does not list: reported, or counted to zero, or deleted."""
    row = PlannedRow(number, sku, RowStatus.PLANNED if action is not AbsentAction.REPORT
                     else RowStatus.UNCHANGED, action="absent")
    if action is AbsentAction.ZERO:
        row.quantities = [QuantityChange(loc, lv.on_hand, 0) for loc, lv in sorted(
            levels.items()) if lv.on_hand != 0]
        row.status = RowStatus.PLANNED if row.quantities else RowStatus.UNCHANGED
    elif action is AbsentAction.DELETE:
        row.action = "delete"
    row.channels = channel_changes(ctx, sku, levels, row.quantities, deleted,
                                   deleted_after=deleted or action is AbsentAction.DELETE)
    return row


def channel_changes(ctx: PlanContext, sku: str, levels: dict[str, Level],
                    quantities: list[QuantityChange], deleted: bool,
                    deleted_after: bool | None = None) -> dict[str, tuple[int, int]]:
    """What each channel shows for `sku` now and after the row, under its own rules,
    where the two differ."""
    before = {loc: lv.available for loc, lv in levels.items()}
    after = dict(before)
    for q in quantities:
        level = levels.get(q.location)
        held = (level.reserved + level.pending) if level else 0
        after[q.location] = q.after - held
    gone = deleted if deleted_after is None else deleted_after
    shown: dict[str, tuple[int, int]] = {}
    for code, rules in ctx.channels:
        was = channel_quantity(rules, SkuState(sku, before, deleted))
        will = channel_quantity(rules, SkuState(sku, after, gone))
        if was != will:
            shown[code] = (was, will)
    return shown


def _resolve_sku(row: ParsedRow, sku_column: str, barcode_column: str,
                 known: Known) -> tuple[str | None, list[RowError]]:
    owner = None
    if row.barcode is not None:
        owner = next((known.owners[f] for f in lookup_forms(row.barcode)
                      if f in known.owners), None)
    if row.sku is not None:
        if not is_valid_sku(row.sku):
            return None, [RowError(row.number, sku_column, f"{row.sku!r} is not a valid SKU "
                                   "(1-64 of A-Z a-z 0-9 . _ - /)")]
        if owner is not None and owner != row.sku:
            return row.sku, [RowError(row.number, barcode_column,
                                      f"barcode {row.barcode} belongs to {owner}")]
        return row.sku, []
    if row.barcode is not None:
        if owner is None:
            return None, [RowError(row.number, barcode_column,
                                   f"unknown barcode {row.barcode}: no item has it")]
        return owner, []
    if row.group is not None and not row.quantities:
        return None, []  # a product's extra image row: nothing of a variant to import
    if any(e.column == barcode_column for e in row.errors):
        return None, []  # the bad barcode is the reason, reported with the row's errors
    return None, [RowError(row.number, sku_column, "no SKU and no barcode")]


def _quantities(row: ParsedRow, levels: dict[str, Level], ctx: PlanContext,
                columns: dict[str, str], errors: list[RowError]) -> list[QuantityChange]:
    changes = []
    for location, units in row.quantities.items():
        column = columns.get(location, location)
        level = levels.get(location) or Level(row.sku or "", location)
        if ctx.quantity_mode is QuantityMode.DELTA:
            if units == 0:
                continue
            if units < 0 and level.available + units < 0:
                errors.append(RowError(row.number, column, f"taking {-units} would leave "
                                       f"available below zero (available {level.available})"))
                continue
            changes.append(QuantityChange(location, level.on_hand, level.on_hand + units, units))
            continue
        if level.last_counted_at is not None and ctx.counted_at <= level.last_counted_at:
            errors.append(RowError(row.number, column, "stale count: a newer count "
                                   f"({level.last_counted_at.isoformat()}) is applied"))
            continue
        if units != level.on_hand:
            changes.append(QuantityChange(location, level.on_hand, units))
    return changes


def _item_change(row: ParsedRow, sku: str,
                 existing: Item | None) -> tuple[Item, dict[str, tuple[Any, Any]]]:
    """The item after the row (blank cells keep what is there) and the fields it changes."""
    base = existing or Item(sku)
    updates: dict[str, Any] = {**row.text, **row.prices}
    if row.attributes:
        updates["attributes"] = {**base.attributes, **row.attributes}
    if row.images is not None:
        updates["images"] = row.images
    if row.barcode is not None and row.barcode not in base.barcodes:
        updates["barcodes"] = (*base.barcodes, row.barcode)
    diff = {name: (_shown(getattr(base, name)) if existing else None, _shown(value))
            for name, value in updates.items() if getattr(base, name) != value}
    if existing is None:
        diff = {"sku": (None, sku), **diff}
    return replace(base, **updates), diff


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 29.0000 as stored -> "29"
    if isinstance(value, tuple):
        return [_shown(v) for v in value]
    if isinstance(value, Image):
        return value.url
    return value
