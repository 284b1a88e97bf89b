"""Availability as shops and agents read it: schema.org `Offer` in JSON-LD.

https://schema.org/Offer — `availability` takes an ItemAvailability URL, `inventoryLevel`
a QuantitativeValue, `price` a number as text with `priceCurrency` (ISO 4217).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stocksync.agents.freshness import offer_availability
from stocksync.agents.reads import Availability, SkuAvailability

SCHEMA = "https://schema.org"
CENTS = Decimal("0.01")


def price_text(price: Decimal) -> str:
    """The price as stored (4 decimals) without the noise: 1500.0000 -> 1500.00."""
    return str(price.quantize(CENTS)) if price == price.quantize(CENTS) \
        else format(price.normalize(), "f")


def storefront_items(answer: Availability, limited_at_or_below: int) -> list[dict[str, Any]]:
    return [{"sku": i.item.sku, "title": i.item.title, "available": i.available,
             "availability": offer_availability(i.available, limited_at_or_below)
             .value.rsplit("/", 1)[1],
             "locations": [{"location": lv.location, "available": max(lv.available, 0)}
                           for lv in i.levels]}
            for i in answer.items]


def offer(item: SkuAvailability, limited_at_or_below: int) -> dict[str, Any]:
    product: dict[str, Any] = {"@type": "Product", "sku": item.item.sku}
    if item.item.title:
        product["name"] = item.item.title
    found: dict[str, Any] = {
        "@type": "Offer", "sku": item.item.sku, "itemOffered": product,
        "availability": offer_availability(item.available, limited_at_or_below).value,
        "inventoryLevel": {"@type": "QuantitativeValue", "value": item.available},
    }
    if item.item.price is not None and item.item.currency:
        found["price"] = price_text(item.item.price)
        found["priceCurrency"] = item.item.currency
    return found


def offer_graph(answer: Availability, limited_at_or_below: int) -> dict[str, Any]:
    """One Offer for one SKU, an @graph of them for several."""
    offers = [offer(i, limited_at_or_below) for i in answer.items]
    if len(offers) == 1:
        return {"@context": SCHEMA, **offers[0]}
    return {"@context": SCHEMA, "@graph": offers}
