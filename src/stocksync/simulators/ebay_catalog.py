"""Product content in the eBay simulator: what createOrReplaceInventoryItem's `product`
carries besides the title (description, aspects, imageUrls), validated like eBay (aspect
names and values at most 65 characters, at most 24 image URLs, https only, description
at most 500,000 characters), kept per SKU and shown by GET /_sim/catalog with each SKU's
published offer price and whether it is listed (withdrawOffer ends a listing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI, Request, Response

from stocksync.simulators.ebay_state import EbaySimState, JsonObject, ebay_error

MAX_ASPECT = 65
MAX_IMAGES = 24
MAX_DESCRIPTION = 500_000
USER_ERROR = 25002  # eBay's documented catch-all user error
BASE = "/sell/inventory/v1"
# Item specifics a category requires before an offer is published (getItemAspectsForCategory
# in the Taxonomy API); the simulator requires Brand in every category.
REQUIRED_ASPECTS = ("Brand",)


@dataclass(slots=True)
class Catalog:
    products: dict[str, JsonObject] = field(default_factory=dict)  # sku -> product
    categories: dict[str, str] = field(default_factory=dict)  # offer id -> categoryId
    writes: int = 0  # inventory item replaces that carried a product


def catalog(sim: EbaySimState) -> Catalog:
    found = sim.__dict__.get("content_catalog")
    if found is None:
        found = sim.__dict__["content_catalog"] = Catalog()
    return found  # type: ignore[no-any-return]


def check_product(body: object, invalid: Callable[[str, str], JsonObject]) -> list[JsonObject]:
    """eBay's errors for the product's content (the title is checked by the caller)."""
    product = body.get("product") if isinstance(body, dict) else None
    if not isinstance(product, dict):
        return []
    errors = []
    aspects = product.get("aspects")
    if aspects is not None:
        if not isinstance(aspects, dict) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v)
                for v in aspects.values()):
            errors.append(invalid("product.aspects", "Each aspect is a list of strings."))
        elif any(len(k) > MAX_ASPECT or any(len(x) > MAX_ASPECT for x in v)
                 for k, v in aspects.items()):
            errors.append(invalid("product.aspects", f"Max length {MAX_ASPECT}."))
    images = product.get("imageUrls")
    if images is not None and (not isinstance(images, list) or len(images) > MAX_IMAGES
                               or not all(isinstance(u, str) and u.startswith("https://")
                                          for u in images)):
        errors.append(invalid("product.imageUrls", f"At most {MAX_IMAGES} https URLs."))
    description = product.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > MAX_DESCRIPTION):
        errors.append(invalid("product.description", f"Max length {MAX_DESCRIPTION}."))
    return errors


def keep_product(sim: EbaySimState, sku: str, body: object) -> None:
    """After a replace: the stored product is exactly what was sent (a full replace)."""
    product = body.get("product") if isinstance(body, dict) else None
    book = catalog(sim)
    book.products[sku] = dict(product) if isinstance(product, dict) else {}
    book.writes += 1


def product_of(sim: EbaySimState, sku: str) -> JsonObject:
    return catalog(sim).products.get(sku, {})


def install(app: FastAPI, sim: EbaySimState) -> None:
    @app.get("/_sim/catalog")
    async def get_catalog() -> dict[str, Any]:
        prices = {o.sku: {"value": o.price, "currency": o.currency}
                  for o in sim.offers.values() if o.status == "PUBLISHED"}
        listed = {o.sku for o in sim.offers.values() if o.status == "PUBLISHED"}
        return {"items": {sku: {**catalog(sim).products.get(sku, {"title": item.title}),
                                "price": prices.get(sku), "listed": sku in listed}
                          for sku, item in sim.items.items()},
                "writes": catalog(sim).writes}


Gate = Callable[..., Awaitable[Response | None]]
Reply = Callable[[Request, int, JsonObject | None, list[str]], Response]


def create_offer(sim: EbaySimState, body: object, language: str | None) -> tuple[int, JsonObject]:
    """createOffer: an UNPUBLISHED offer of an existing inventory item."""
    spec = body if isinstance(body, dict) else {}
    price = (spec.get("pricingSummary") or {}).get("price") or {}
    problems = []
    if not language:
        problems.append("header Content-Language")
    if spec.get("sku") not in sim.items:
        problems.append("sku (no inventory item)")
    if not spec.get("marketplaceId"):
        problems.append("marketplaceId")
    try:
        if Decimal(str(price.get("value"))) <= 0:
            problems.append("pricingSummary.price")
    except InvalidOperation:
        problems.append("pricingSummary.price")
    if problems:
        return 400, {"errors": [ebay_error(25709, f"Invalid value for {p}.") for p in problems]}
    try:
        offer = sim.add_offer(str(spec["sku"]), str(spec["marketplaceId"]),
                              int(spec.get("availableQuantity") or 0), published=False,
                              price=str(Decimal(str(price["value"]))),
                              listing_format=str(spec.get("format") or "FIXED_PRICE"),
                              merchant_location_key=spec.get("merchantLocationKey"))
    except ValueError:
        return 400, {"errors": [ebay_error(USER_ERROR, "Offer entity already exists.")]}
    offer.currency = str(price.get("currency") or "USD")
    if spec.get("categoryId"):
        catalog(sim).categories[offer.offer_id] = str(spec["categoryId"])
    return 201, {"offerId": offer.offer_id, "warnings": []}


def publish_offer(sim: EbaySimState, offer_id: str) -> tuple[int, JsonObject]:
    """publishOffer: checks what a listing needs (title, an image, a category, the
    category's required item specifics), then lists it."""
    offer = sim.offers.get(offer_id)
    if offer is None:
        return 404, {"errors": [ebay_error(25713, "This Offer is not available.")]}
    product = catalog(sim).products.get(offer.sku, {})
    missing = []
    if not product.get("title"):
        missing.append("The title is missing.")
    if not product.get("imageUrls"):
        missing.append("At least 1 picture is required.")
    if offer_id not in catalog(sim).categories:
        missing.append("No category: set categoryId on the offer.")
    aspects = product.get("aspects") or {}
    missing += [f"The item specific {name} is missing. Add {name} to this listing, enter a "
                "valid value, and then try again." for name in REQUIRED_ASPECTS
                if not aspects.get(name)]
    if missing:
        return 400, {"errors": [ebay_error(USER_ERROR, m) for m in missing]}
    if offer.status != "PUBLISHED":
        sim._next_listing += 1
        offer.status, offer.listing_id = "PUBLISHED", str(sim._next_listing)
    return 200, {"listingId": offer.listing_id, "warnings": []}


def withdraw_offer(sim: EbaySimState, offer_id: str) -> tuple[int, JsonObject]:
    """withdrawOffer: ends the offer's listing; the offer stays, UNPUBLISHED, and
    publishOffer lists it again (under a new listing id)."""
    offer = sim.offers.get(offer_id)
    if offer is None:
        return 404, {"errors": [ebay_error(25713, "This Offer is not available.")]}
    if offer.status != "PUBLISHED":
        return 400, {"errors": [ebay_error(USER_ERROR, "The offer is not published.")]}
    ended = offer.listing_id
    offer.status, offer.listing_id = "UNPUBLISHED", None
    return 200, {"listingId": ended, "warnings": []}


def install_offers(app: FastAPI, sim: EbaySimState, gate: Gate, reply: Reply) -> None:
    """createOffer, publishOffer and withdrawOffer, behind the simulator's auth and call
    quota."""
    @app.post(f"{BASE}/offer")
    async def create(request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        try:
            body: object = await request.json()
        except ValueError:
            body = None
        status, answer = create_offer(sim, body, request.headers.get("Content-Language"))
        return reply(request, status, answer, [str((body or {}).get("sku"))]
                     if isinstance(body, dict) else [])

    @app.post(f"{BASE}/offer/{{offer_id}}/publish/")
    async def publish(offer_id: str, request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        status, answer = publish_offer(sim, offer_id)
        offer = sim.offers.get(offer_id)
        return reply(request, status, answer, [offer.sku] if offer else [])

    @app.post(f"{BASE}/offer/{{offer_id}}/withdraw")
    async def withdraw(offer_id: str, request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        offer = sim.offers.get(offer_id)
        status, answer = withdraw_offer(sim, offer_id)
        return reply(request, status, answer, [offer.sku] if offer else [])
