"""Listing content in the Amazon simulator: the attributes content sync patches are
validated like the product type definitions require (item_name and product_description
are [{value, language_tag, marketplace_id}] with a non-empty value, item_name at most 200
characters; purchasable_offer carries a currency and a non-negative
our_price.schedule.value_with_tax; image locators carry an https media_location); the
simulator keeps every patched attribute (amazon_listings.apply_patch).

Route: GET /_sim/catalog (each listing's content attributes, and how many content patches
were accepted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from stocksync.simulators.amazon_state import AmazonSimState, JsonObject

MAX_ITEM_NAME = 200
TEXT = ("item_name", "product_description")
CONTENT = (*TEXT, "purchasable_offer", "list_price", "main_product_image_locator")
Issue = Callable[[str, str], JsonObject]


def attribute_issues(attribute: str, op: str, value: object, issue: Issue) -> list[JsonObject]:
    if op == "delete" or not isinstance(value, list):
        return []
    found: list[JsonObject] = []
    for entry in value:
        if attribute in TEXT:
            text = entry.get("value")
            if not isinstance(text, str) or not text.strip():
                found.append(issue(f"The attribute '{attribute}' needs a value.", attribute))
            elif attribute == "item_name" and len(text) > MAX_ITEM_NAME:
                found.append(issue(f"'item_name' is longer than {MAX_ITEM_NAME} characters.",
                                   attribute))
        elif attribute == "purchasable_offer":
            schedules = [s for p in entry.get("our_price") or [] for s in p.get("schedule") or []]
            amounts = [s.get("value_with_tax") for s in schedules]
            if not isinstance(entry.get("currency"), str) or len(entry["currency"]) != 3 or \
                    not amounts or not all(isinstance(a, int | float) and a >= 0
                                           for a in amounts):
                found.append(issue("'purchasable_offer' needs a currency and a price of at "
                                   "least 0.", attribute))
        elif "image_locator" in attribute and \
                not str(entry.get("media_location", "")).startswith("https://"):
            found.append(issue(f"'{attribute}' needs an https media_location.", attribute))
    return found


def install(app: FastAPI, sim: AmazonSimState) -> None:
    @app.get("/_sim/catalog")
    async def get_catalog() -> dict[str, Any]:
        return {"items": {sku: {k: v for k, v in listing.attributes.items()
                                if k in CONTENT or "image_locator" in k}
                          for sku, listing in sim.listings.items()}}
