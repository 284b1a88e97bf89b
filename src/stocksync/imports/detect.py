"""Detect a mapping from a header row: Shopify's and WooCommerce's product exports, and
common column names. Header names are compared case- and space-insensitively.

Sources for the export headers: tests/fixtures/imports/SOURCES.md.
"""

from __future__ import annotations

import re

from stocksync.core.errors import InvalidInput
from stocksync.imports.mapping import Mapping, header_key

QUANTITY = "quantity"  # a quantity column whose location the caller must name

SHOPIFY = {
    "handle": "group", "url handle": "group", "title": "title", "body (html)": "description",
    "description": "description", "vendor": "brand", "type": "garment_type",
    "variant sku": "sku", "sku": "sku", "variant barcode": "barcode", "barcode": "barcode",
    "variant price": "price", "price": "price", "variant compare at price": "compare_at_price",
    "compare-at price": "compare_at_price", "cost per item": "cost_price",
    "image src": "images", "product image url": "images", "image alt text": "image_alt",
    "google shopping / gender": "gender", "variant inventory qty": QUANTITY,
    "inventory quantity": QUANTITY,
}
WOOCOMMERCE = {
    "sku": "sku", "name": "title", "description": "description", "regular price": "price",
    "sale price": "sale_price", "stock": QUANTITY, "images": "images",
    "gtin, upc, ean, or isbn": "barcode", "brands": "brand",
}
COMMON = {
    **{k: "sku" for k in ("sku", "article", "article number", "article no", "item number",
                          "item no", "product code", "style code")},
    **{k: "barcode" for k in ("barcode", "ean", "ean13", "ean-13", "upc", "gtin")},
    **{k: "title" for k in ("title", "name", "product name", "product")},
    "description": "description", "brand": "brand", "manufacturer": "brand",
    "gender": "gender", "material": "material", "garment type": "garment_type",
    "size": "size", "colour": "colour", "color": "colour", "currency": "currency",
    **{k: "price" for k in ("price", "retail price", "rrp", "retail", "sales price")},
    **{k: "compare_at_price" for k in ("compare at price", "compare-at price", "msrp")},
    **{k: "cost_price" for k in ("cost", "cost price", "purchase price", "unit cost")},
    **{k: "images" for k in ("image", "images", "image url", "image urls")},
    **{k: QUANTITY for k in ("quantity", "qty", "stock", "on hand", "inventory")},
}
_QTY_WORDS = r"(?:stock|qty|quantity|on hand|inventory)"
_SHOPIFY_OPTION = re.compile(r"^option(\d) name$")
_WOO_ATTRIBUTE = re.compile(r"^attribute (\d+) name$")


def preset_of(keys: set[str]) -> str:
    if "variant sku" in keys or ({"handle", "url handle"} & keys and "title" in keys):
        return "shopify"
    if "regular price" in keys or "gtin, upc, ean, or isbn" in keys or (
            "type" in keys and "sku" in keys and "name" in keys):
        return "woocommerce"
    return "common"


def detect(headers: list[str], locations: list[str],
           default_location: str | None = None) -> Mapping:
    """Guess the mapping. A quantity column without a location in its name (Shopify's
    Variant Inventory Qty, WooCommerce's Stock) goes to `default_location`, or to the
    tenant's only location."""
    keys = {header_key(h): h for h in headers}
    preset = preset_of(set(keys))
    table = {"shopify": SHOPIFY, "woocommerce": WOOCOMMERCE}.get(preset, {})
    columns: dict[str, str] = {}
    unplaced: str | None = None
    for names in (table, COMMON):
        for key, header in keys.items():
            target = names.get(key)
            if target == QUANTITY:
                unplaced = unplaced or header
            elif target is not None and target not in columns:
                columns[target] = header
    quantities = _location_columns(keys, locations)
    if unplaced is not None and not quantities:
        location = default_location or (locations[0] if len(locations) == 1 else None)
        if location is None:
            raise InvalidInput(
                f"column {unplaced!r} holds quantities but names no location: give the "
                "location (--location) or a mapping", field="location", column=unplaced)
        quantities[location] = unplaced
    return Mapping(columns=columns, quantities=quantities, option_pairs=_pairs(keys),
                   preset=preset)


def _location_columns(keys: dict[str, str], locations: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for code in locations:
        c = re.escape(code.lower())
        pattern = re.compile(rf"^(?:{_QTY_WORDS}[ _:-]*{c}|{c}[ _:-]*{_QTY_WORDS}|{c})$")
        for key, header in keys.items():
            if pattern.match(key):
                found[code] = header
                break
    return found


def _pairs(keys: dict[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for key, header in keys.items():
        if m := _SHOPIFY_OPTION.match(key):
            value = keys.get(f"option{m.group(1)} value")
        elif m := _WOO_ATTRIBUTE.match(key):
            value = keys.get(f"attribute {m.group(1)} value(s)")
        else:
            continue
        if value is not None:
            pairs.append((header, value))
    return tuple(pairs)
