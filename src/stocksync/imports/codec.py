"""Planned rows to and from the JSON stored in import_rows.plan."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from stocksync.core.catalog import Item
from stocksync.imports.planner import PlannedRow, QuantityChange

ITEM_FIELDS = ("title", "description", "brand", "gender", "material", "garment_type", "size",
               "colour", "currency", "price", "compare_at_price", "cost_price", "attributes",
               "barcodes", "images")
PRICES = ("price", "compare_at_price", "cost_price")


def item_values(item: Item, fields: list[str]) -> dict[str, Any]:
    """The named item fields as JSON values (prices as strings, images as objects)."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(item, name)
        if name in PRICES and value is not None:
            value = str(value)
        elif name == "images":
            value = [asdict(i) for i in value]
        elif name == "barcodes":
            value = list(value)
        out[name] = value
    return out


def column_values(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored item values as column values for the items table."""
    out = dict(stored)
    for name in PRICES:
        if out.get(name) is not None:
            out[name] = Decimal(out[name])
    return out


def plan_json(row: PlannedRow) -> dict[str, Any] | None:
    if row.status.value not in ("planned", "unchanged") and not row.quantities:
        return None
    out: dict[str, Any] = {}
    if row.action:
        out["action"] = row.action
    if row.item is not None and row.action in ("create", "update"):
        fields = [f for f in ITEM_FIELDS if f in row.diff] if row.action == "update" \
            else [f for f in ITEM_FIELDS if getattr(row.item, f) not in (None, {}, ())]
        out["set"] = item_values(row.item, fields)
    if row.diff:
        out["diff"] = {k: list(v) for k, v in row.diff.items()}
    if row.quantities:
        out["quantities"] = [{"location": q.location, "before": q.before, "after": q.after,
                              "delta": q.delta} for q in row.quantities]
    if row.channels:
        out["channels"] = {k: list(v) for k, v in row.channels.items()}
    return out or None


def quantities_of(plan: dict[str, Any]) -> list[QuantityChange]:
    return [QuantityChange(**q) for q in plan.get("quantities", [])]
