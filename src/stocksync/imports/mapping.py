"""Which file column feeds which field: given as a JSON/YAML mapping file, on the command
line, saved per tenant by name, or detected from the header row (detect.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from stocksync.core.errors import InvalidInput

TEXT_FIELDS = ("title", "description", "brand", "gender", "material", "garment_type", "size",
               "colour", "currency")
PRICE_FIELDS = ("price", "compare_at_price", "cost_price", "sale_price")
# group: a column shared by the rows of one product (Shopify's Handle): product-level cells
# left blank on a variant's row are taken from the product's first row.
FIELDS = ("sku", "barcode", *TEXT_FIELDS, *PRICE_FIELDS, "images", "image_alt", "group")


class QuantityMode(StrEnum):
    ABSOLUTE = "absolute"  # a stock count: on hand becomes the number (stock.counted)
    DELTA = "delta"  # a delivery note: the number is added (stock.received / adjusted)


def header_key(header: str) -> str:
    return " ".join(header.lower().split())


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)  # field -> column header
    quantities: dict[str, str] = field(default_factory=dict)  # location code -> header
    attributes: dict[str, str] = field(default_factory=dict)  # attribute name -> header
    option_pairs: tuple[tuple[str, str], ...] = ()  # (name header, value header)
    quantity_mode: QuantityMode = QuantityMode.ABSOLUTE
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    image_separator: str = ","
    preset: str | None = None  # shopify | woocommerce | common, when detected

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": dict(self.columns),
                               "quantities": dict(self.quantities),
                               "quantity_mode": self.quantity_mode.value}
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        if self.option_pairs:
            out["options"] = [{"name": n, "value": v} for n, v in self.option_pairs]
        for key in ("sheet", "encoding", "delimiter", "preset"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.image_separator != ",":
            out["image_separator"] = self.image_separator
        return out

    def with_overrides(self, columns: dict[str, str], quantities: dict[str, str],
                       mode: QuantityMode | None) -> Mapping:
        return replace(self, columns={**self.columns, **columns},
                       quantities={**self.quantities, **quantities},
                       quantity_mode=mode or self.quantity_mode)


def mapping_from_dict(data: Any) -> Mapping:
    """A mapping from its JSON/YAML form; unknown keys and fields are errors, not ignored."""
    if not isinstance(data, dict):
        raise InvalidInput("a mapping must be an object with `columns` and `quantities`",
                           field="mapping")
    known = {"columns", "quantities", "attributes", "options", "quantity_mode", "sheet",
             "encoding", "delimiter", "image_separator", "preset"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"unknown mapping key(s): {', '.join(unknown)}", field="mapping",
                           known=sorted(known))
    columns = _str_dict(data.get("columns", {}), "columns")
    bad = sorted(set(columns) - set(FIELDS))
    if bad:
        raise InvalidInput(f"unknown field(s) in columns: {', '.join(bad)}",
                           field="mapping.columns", fields=list(FIELDS))
    options = data.get("options", [])
    if not isinstance(options, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str)
            and isinstance(o.get("value"), str) for o in options):
        raise InvalidInput("options must be a list of {name, value} column pairs",
                           field="mapping.options")
    try:
        mode = QuantityMode(data.get("quantity_mode", "absolute"))
    except ValueError as exc:
        raise InvalidInput("quantity_mode must be absolute or delta",
                           field="mapping.quantity_mode") from exc
    return Mapping(
        columns=columns, quantities=_str_dict(data.get("quantities", {}), "quantities"),
        attributes=_str_dict(data.get("attributes", {}), "attributes"),
        option_pairs=tuple((o["name"], o["value"]) for o in options), quantity_mode=mode,
        sheet=_opt_str(data, "sheet"), encoding=_opt_str(data, "encoding"),
        delimiter=_opt_str(data, "delimiter"),
        image_separator=_opt_str(data, "image_separator") or ",",
        preset=_opt_str(data, "preset"))


def load_mapping_file(path: Path) -> Mapping:
    """A mapping file: JSON, or YAML when the name ends in .yaml/.yml."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read mapping file {path}: {exc}", field="mapping") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's parse errors
        raise InvalidInput(f"mapping file {path} is not valid: {exc}", field="mapping") from exc
    except Exception as exc:  # yaml.YAMLError is not a ValueError
        raise InvalidInput(f"mapping file {path} is not valid YAML: {exc}",
                           field="mapping") from exc
    return mapping_from_dict(data)


def missing_columns(mapping: Mapping, headers: list[str]) -> list[str]:
    """Columns the mapping names that the file does not have."""
    present = {header_key(h) for h in headers}
    named = [*mapping.columns.values(), *mapping.quantities.values(),
             *mapping.attributes.values(), *(c for pair in mapping.option_pairs for c in pair)]
    return [c for c in named if header_key(c) not in present]


def _str_dict(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidInput(f"{name} must map names to column headers (strings)",
                           field=f"mapping.{name}")
    return dict(value)


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string", field=f"mapping.{key}")
    return value
