"""The preview's totals and samples, built row by row in bounded memory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from stocksync.imports.planner import PlannedRow, RowStatus

SAMPLES = 20  # item diffs, quantity changes and channel changes shown per kind
MAX_ERRORS = 200  # rejected-row messages kept in the summary (all are in import_rows)


@dataclass
class Summary:
    rows_read: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    items_created: int = 0
    items_changed: int = 0
    items_deleted: int = 0
    absent: int = 0
    quantity_changes: Counter[str] = field(default_factory=Counter)  # location -> rows
    units: Counter[str] = field(default_factory=Counter)  # location -> net change in on hand
    channel_changes: Counter[str] = field(default_factory=Counter)  # channel -> SKUs
    item_samples: list[dict[str, Any]] = field(default_factory=list)
    quantity_samples: list[dict[str, Any]] = field(default_factory=list)
    channel_samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    absent_samples: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: PlannedRow, *, from_file: bool = True) -> None:
        if from_file:
            self.rows_read += 1
        else:
            self.absent += 1
            if len(self.absent_samples) < SAMPLES * 5:
                self.absent_samples.append(row.sku or "")
        self.statuses[row.status.value] += 1
        for error in row.errors:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append({"row": error.row, "column": error.column,
                                    "reason": error.reason})
        if row.status is not RowStatus.PLANNED:
            return
        if row.action in ("create", "update"):
            if row.action == "create":
                self.items_created += 1
            else:
                self.items_changed += 1
            if len(self.item_samples) < SAMPLES:
                self.item_samples.append({"row": row.number, "sku": row.sku,
                                          "action": row.action,
                                          "diff": {k: list(v) for k, v in row.diff.items()}})
        if row.action == "delete":
            self.items_deleted += 1
        for q in row.quantities:
            self.quantity_changes[q.location] += 1
            self.units[q.location] += q.after - q.before
            if len(self.quantity_samples) < SAMPLES:
                self.quantity_samples.append({"row": row.number, "sku": row.sku,
                                              "location": q.location, "before": q.before,
                                              "after": q.after})
        for code, (before, after) in row.channels.items():
            self.channel_changes[code] += 1
            shown = self.channel_samples.setdefault(code, [])
            if len(shown) < SAMPLES:
                shown.append({"sku": row.sku, "before": before, "after": after})

    @property
    def rejected(self) -> int:
        return self.statuses[RowStatus.REJECTED.value]

    @property
    def to_apply(self) -> int:
        return self.statuses[RowStatus.PLANNED.value]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read, "rows": dict(self.statuses),
            "rows_rejected": self.rejected, "rows_to_apply": self.to_apply,
            "items_created": self.items_created, "items_changed": self.items_changed,
            "items_deleted": self.items_deleted, "absent_skus": self.absent,
            "quantity_changes": {loc: {"rows": n, "units": self.units[loc]}
                                 for loc, n in sorted(self.quantity_changes.items())},
            "channels": {code: {"skus_changed": n, "samples": self.channel_samples[code]}
                         for code, n in sorted(self.channel_changes.items())},
            "item_samples": self.item_samples, "quantity_samples": self.quantity_samples,
            "absent_samples": self.absent_samples, "errors": self.errors,
        }
