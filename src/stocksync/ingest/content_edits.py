"""Product edits made in a channel, read from its webhooks for content sync (plain data):
Shopify `products/update` (REST Product: title, body_html, updated_at, variants with sku,
price, compare_at_price) and WooCommerce `product.updated` (name, description,
regular_price, sale_price, date_modified_gmt). Stock in the same deliveries is the ingest
worker's business; these parsers only read content."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

TOPICS = {"shopify": "products/update", "woocommerce": "product.updated"}


@dataclass(frozen=True, slots=True)
class ChannelEdit:
    """`fields`: title, description and/or price ({"amount", "compare_at"}, the currency is
    the item's) as the channel shows them since `at`."""

    sku: str
    at: datetime
    fields: dict[str, Any] = field(default_factory=dict)


def money(value: object) -> str | None:
    if value is None or value == "":
        return None
    try:
        return format(Decimal(str(value)).quantize(Decimal("0.01")), "f")
    except InvalidOperation:
        return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # WooCommerce's *_gmt fields carry no offset: they are UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def shopify_edits(body: bytes) -> list[ChannelEdit]:
    product = json.loads(body)
    at = _time(product.get("updated_at")) if isinstance(product, dict) else None
    if at is None:
        return []
    edits = []
    for variant in product.get("variants") or []:
        sku = variant.get("sku") if isinstance(variant, dict) else None
        if not isinstance(sku, str) or not sku:
            continue
        fields: dict[str, Any] = {}
        if isinstance(product.get("title"), str):
            fields["title"] = product["title"]
        if "body_html" in product:
            fields["description"] = product.get("body_html") or None
        if "price" in variant:
            fields["price"] = {"amount": money(variant.get("price")),
                               "compare_at": money(variant.get("compare_at_price"))}
        edits.append(ChannelEdit(sku, at, fields))
    return edits


def woocommerce_edits(body: bytes) -> list[ChannelEdit]:
    product = json.loads(body)
    if not isinstance(product, dict):
        return []
    sku, at = product.get("sku"), _time(product.get("date_modified_gmt"))
    if not isinstance(sku, str) or not sku or at is None:
        return []
    fields: dict[str, Any] = {}
    if isinstance(product.get("name"), str) and product.get("type") != "variation":
        fields["title"] = product["name"]
    if "description" in product:
        fields["description"] = product.get("description") or None
    if "regular_price" in product:
        regular, sale = money(product.get("regular_price")), money(product.get("sale_price"))
        fields["price"] = ({"amount": sale, "compare_at": regular} if sale is not None
                           else {"amount": regular, "compare_at": None})
    return [ChannelEdit(sku, at, fields)]


def edits_of(kind: str, body: bytes) -> list[ChannelEdit]:
    try:
        if kind == "shopify":
            return shopify_edits(body)
        if kind == "woocommerce":
            return woocommerce_edits(body)
    except (ValueError, AttributeError, TypeError):
        return []  # not a product: the ingest worker reports malformed deliveries
    return []
