"""The Sell Inventory API calls of the eBay simulator, as plain functions of the state.

Each returns an `Answer` (HTTP status, JSON body, and what the request log should note);
simulators/ebay.py does the HTTP, auth and quota around them. Wire format: ebay.md §2-§4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stocksync.simulators import ebay_catalog
from stocksync.simulators.ebay_state import (
    MAX_SKU_LENGTH,
    MAX_TITLE_LENGTH,
    EbaySimState,
    InventoryItem,
    JsonObject,
    Offer,
    ebay_error,
)

MAX_BULK = 25  # bulk_get_inventory_item, bulk_update_price_quantity requests (ebay.md §2, §4)
MAX_OFFERS_PER_SKU = 25
MAX_PAGE = 100
NOT_FOUND = 25710  # "We didn't find the resource/entity you are requesting"
OFFER_NOT_FOUND = 25713  # "This Offer is not available." (unconfirmed)
INVALID_VALUE = 25709  # documented "invalid value for field" (ebay.md §4)
USER_ERROR = 25002  # documented catch-all user error (ebay.md §4)
# The error eBay returns at the daily revision cap is not documented (ebay.md §5): the
# simulator answers the catch-all user error with this message.
REVISION_CAP_MESSAGE = ("This listing has reached the maximum of {cap} revisions for today. "
                        "It can be revised again on the next calendar day.")


@dataclass(slots=True)
class Answer:
    status: int
    body: JsonObject | None
    skus: list[str] = field(default_factory=list)
    error_ids: list[int] = field(default_factory=list)


def item_json(item: InventoryItem, sim: EbaySimState | None = None) -> JsonObject:
    ship: JsonObject = {"quantity": item.quantity}
    if item.distributions:
        ship["availabilityDistributions"] = [
            {"merchantLocationKey": key, "quantity": quantity}
            for key, quantity in item.distributions.items()]
    return {"sku": item.sku, "locale": item.locale, "condition": item.condition,
            "product": {**ebay_catalog.product_of(sim, item.sku), "title": item.title}
            if sim is not None else {"title": item.title},
            "availability": {"shipToLocationAvailability": ship}}


def offer_json(offer: Offer) -> JsonObject:
    body: JsonObject = {
        "offerId": offer.offer_id, "sku": offer.sku, "marketplaceId": offer.marketplace_id,
        "format": offer.format, "availableQuantity": offer.available_quantity,
        "pricingSummary": {"price": {"value": offer.price, "currency": offer.currency}},
        "listingDuration": "GTC", "status": offer.status}
    if offer.merchant_location_key:
        body["merchantLocationKey"] = offer.merchant_location_key
    if offer.listing_id is not None:
        body["listing"] = {"listingId": offer.listing_id, "listingStatus": "ACTIVE"}
    return body


def not_found(sku: str | None = None) -> JsonObject:
    return {"errors": [ebay_error(NOT_FOUND, "We didn't find the resource/entity you are "
                                  "requesting. Please verify the request", parameters=(
                                      [{"name": "sku", "value": sku}] if sku else None))]}


def invalid(field_name: str, detail: str = "") -> JsonObject:
    return ebay_error(INVALID_VALUE, f"Invalid value for {field_name}. {detail}".strip())


# -- reading -----------------------------------------------------------------------------
def get_item(sim: EbaySimState, sku: str) -> Answer:
    item = sim.items.get(sku)
    if item is None:
        return Answer(404, not_found(sku), [sku], [NOT_FOUND])
    return Answer(200, item_json(item, sim), [sku])


def get_items(sim: EbaySimState, href: str, limit: int, offset: int) -> Answer:
    """GET /inventory_item: `offset` is a page index (ebay.md §2)."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        return Answer(400, {"errors": [invalid("limit/offset")]}, error_ids=[INVALID_VALUE])
    skus = sorted(sim.items)
    page = skus[offset * limit:(offset + 1) * limit]
    pages = -(-len(skus) // limit)
    body: JsonObject = {"href": f"{href}?limit={limit}&offset={offset}", "total": len(skus),
                        "size": pages, "limit": limit,
                        "inventoryItems": [item_json(sim.items[sku]) for sku in page]}
    if offset + 1 < pages:
        body["next"] = f"{href}?limit={limit}&offset={offset + 1}"
    if offset > 0:
        body["prev"] = f"{href}?limit={limit}&offset={offset - 1}"
    return Answer(200, body, page)


def bulk_get_items(sim: EbaySimState, body: object) -> Answer:
    requests = body.get("requests") if isinstance(body, dict) else None
    if (not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BULK
            or not all(isinstance(r, dict) and isinstance(r.get("sku"), str) for r in requests)):
        return Answer(400, {"errors": [invalid("requests", f"Send 1-{MAX_BULK} SKUs.")]},
                      error_ids=[INVALID_VALUE])
    responses: list[JsonObject] = []
    answer = Answer(200, None)
    for request in requests:
        sku = str(request["sku"])
        answer.skus.append(sku)
        item = sim.items.get(sku)
        if item is None:
            responses.append({"statusCode": 404, "sku": sku, **not_found(sku)})
            answer.error_ids.append(NOT_FOUND)
        else:
            responses.append({"statusCode": 200, "sku": sku, "inventoryItem": item_json(item),
                              "errors": [], "warnings": []})
    answer.status = 200 if not answer.error_ids else 207
    answer.body = {"responses": responses}
    return answer


def get_offers(sim: EbaySimState, href: str, sku: str | None, marketplace_id: str | None,
               listing_format: str | None, limit: int, offset: int) -> Answer:
    if not sku:
        return Answer(400, {"errors": [invalid("sku")]}, error_ids=[INVALID_VALUE])
    offers = [o for o in sim.offers_of(sku)
              if (marketplace_id is None or o.marketplace_id == marketplace_id)
              and (listing_format is None or o.format == listing_format)]
    if not offers:
        return Answer(404, {"errors": [ebay_error(OFFER_NOT_FOUND, "This Offer is not "
                                                  "available.")]}, [sku], [OFFER_NOT_FOUND])
    page = offers[offset * limit:(offset + 1) * limit]
    return Answer(200, {"href": f"{href}?sku={sku}&limit={limit}&offset={offset}",
                        "limit": limit, "size": len(page), "total": len(offers),
                        "offers": [offer_json(o) for o in page]}, [sku])


def get_offer(sim: EbaySimState, offer_id: str) -> Answer:
    offer = sim.offers.get(offer_id)
    if offer is None:
        return Answer(404, {"errors": [ebay_error(OFFER_NOT_FOUND, "This Offer is not "
                                                  "available.")]}, error_ids=[OFFER_NOT_FOUND])
    return Answer(200, offer_json(offer), [offer.sku])


# -- writing -----------------------------------------------------------------------------
def revision_cap_error(sim: EbaySimState, listing_id: str) -> JsonObject:
    return ebay_error(USER_ERROR, REVISION_CAP_MESSAGE.format(cap=sim.revision_cap),
                      category="BUSINESS",
                      parameters=[{"name": "listingId", "value": listing_id}])


def capped_listings(sim: EbaySimState, listings: set[str], revised: set[str]) -> list[str]:
    """Listings this change would revise beyond today's cap. One call revises a listing
    once however many of its variations it touches (unconfirmed)."""
    return sorted(listing for listing in listings - revised
                  if sim.revisions_today(listing) >= sim.revision_cap)


def count_revisions(sim: EbaySimState, listings: set[str]) -> None:
    for listing in listings:
        sim.revisions[listing] = sim.revisions_today(listing) + 1


def replace_item(sim: EbaySimState, sku: str, body: object, language: str | None) -> Answer:
    """PUT /inventory_item/{sku}: full replace; a live listing is revised (ebay.md §2)."""
    if not language:
        error = invalid("header Content-Language")
        return Answer(400, {"errors": [error]}, [sku], [INVALID_VALUE])
    product = body.get("product") if isinstance(body, dict) else None
    title = product.get("title") if isinstance(product, dict) else None
    ship = _dig(body, "availability", "shipToLocationAvailability")
    quantity = ship.get("quantity", 0) if isinstance(ship, dict) else 0
    condition = body.get("condition", "NEW") if isinstance(body, dict) else "NEW"
    distributions = _distributions(ship)
    errors: list[JsonObject] = []
    if not 0 < len(sku) <= MAX_SKU_LENGTH:
        errors.append(invalid("sku", f"Max length {MAX_SKU_LENGTH}."))
    if not isinstance(body, dict):
        errors.append(invalid("request body"))
    if isinstance(title, str) and len(title) > MAX_TITLE_LENGTH:
        errors.append(invalid("product.title", f"Max length {MAX_TITLE_LENGTH}."))
    if not _count(quantity) or distributions is None:
        errors.append(invalid("shipToLocationAvailability.quantity"))
    errors += ebay_catalog.check_product(body, invalid)  # content: aspects, images...
    listings = sim.listings_of(sku)
    for listing in capped_listings(sim, listings, set()):
        sim.violate("revision_cap", "createOrReplaceInventoryItem beyond the daily cap",
                    sku, listing)
        errors.append(revision_cap_error(sim, listing))
    if errors:
        return Answer(400, {"errors": errors}, [sku], [e["errorId"] for e in errors])
    existing = sim.items.get(sku)
    # Full replace (ebay.md §2): whatever is not resent is gone, notably the quantity.
    sim.items[sku] = InventoryItem(sku, str(title or ""), int(quantity), distributions or {},
                                   str(condition), language.replace("-", "_"))
    ebay_catalog.keep_product(sim, sku, body)
    count_revisions(sim, listings)
    return Answer(204 if existing else 201, None, [sku])


def bulk_update_price_quantity(sim: EbaySimState, body: object) -> Answer:
    """POST /bulk_update_price_quantity (ebay.md §4): 200, or 207 with per-offer results."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if (not isinstance(requests, list) or not 1 <= len(requests) <= MAX_BULK
            or not all(isinstance(r, dict) for r in requests)):
        return Answer(400, {"errors": [invalid("requests", f"Send 1-{MAX_BULK} requests.")]},
                      error_ids=[INVALID_VALUE])
    owners = {_owner(sim, request) for request in requests} - {None}
    if len(owners) > sim.skus_per_call:
        error = ebay_error(USER_ERROR, "Only one SKU (one product) can be updated per call."
                           if sim.skus_per_call == 1 else
                           f"At most {sim.skus_per_call} SKUs can be updated per call.")
        return Answer(400, {"errors": [error]}, sorted(map(str, owners)), [USER_ERROR])
    answer = Answer(200, None)
    responses: list[JsonObject] = []
    revised: set[str] = set()
    for request in requests:
        responses += _update_one(sim, request, revised, answer)
    count_revisions(sim, revised)
    answer.status = 207 if answer.error_ids else 200
    answer.body = {"responses": responses}
    return answer


def _update_one(sim: EbaySimState, request: JsonObject, revised: set[str],
                answer: Answer) -> list[JsonObject]:
    sku, ship = request.get("sku"), request.get("shipToLocationAvailability")
    raw_offers = request.get("offers") or []
    offers = raw_offers if isinstance(raw_offers, list) else []
    owner = _owner(sim, request)
    answer.skus.append(str(owner or sku))
    status, errors = 400, list[JsonObject]()
    found: list[tuple[Offer, JsonObject]] = []
    if ship is not None and not sku:
        errors.append(invalid("sku", "Required when shipToLocationAvailability is sent."))
    if ship is None and not offers:
        errors.append(invalid("requests", "Send shipToLocationAvailability or offers."))
    if isinstance(sku, str) and sku not in sim.items:
        status, errors = 404, [*errors, *not_found(sku)["errors"]]
    if ship is not None and (not isinstance(ship, dict) or not _count(ship.get("quantity"))
                             or _distributions(ship) is None):
        errors.append(invalid("shipToLocationAvailability.quantity"))
    if not isinstance(raw_offers, list) or len(offers) > MAX_OFFERS_PER_SKU:
        errors.append(invalid("offers", f"At most {MAX_OFFERS_PER_SKU} offers."))
    ids = [str(o.get("offerId")) if isinstance(o, dict) else "" for o in offers]
    if len(set(ids)) != len(ids):
        errors.append(invalid("offerId", "Duplicate offerId values."))
    for offer_id, node in zip(ids, offers, strict=True):
        offer = sim.offers.get(offer_id)
        if offer is None:
            errors.append(invalid("offerId", f"Offer {offer_id} does not exist."))
            continue
        if owner is not None and offer.sku != owner:
            errors.append(invalid("offerId", f"Offer {offer_id} belongs to another SKU."))
        if offer.status != "PUBLISHED":
            errors.append(ebay_error(USER_ERROR, f"Offer {offer_id} is not published; use "
                                     "updateOffer for unpublished offers."))
        quantity = node.get("availableQuantity")
        if (quantity is None and node.get("price") is None) or (
                quantity is not None and not _count(quantity)):
            errors.append(invalid("availableQuantity"))
        found.append((offer, node))
    listings = {o.listing_id for o, _ in found if o.listing_id is not None}
    if ship is not None and owner is not None:
        listings |= sim.listings_of(owner)
    if not errors:
        for listing in capped_listings(sim, listings, revised):
            sim.violate("revision_cap", "bulkUpdatePriceQuantity beyond the daily cap",
                        owner, listing)
            errors.append(revision_cap_error(sim, listing))
    if errors:
        answer.error_ids += [int(e["errorId"]) for e in errors]
        return _results(owner or sku, ids, status, errors)
    if ship is not None and owner is not None:
        item = sim.items[owner]
        item.quantity = int(ship["quantity"])
        item.distributions = _distributions(ship) or item.distributions
    for offer, node in found:
        if node.get("availableQuantity") is not None:
            offer.available_quantity = int(node["availableQuantity"])
        price = node.get("price")
        if isinstance(price, dict) and price.get("value") is not None:
            offer.price = str(price["value"])
    revised |= listings
    return _results(owner or sku, ids, 200, [])


def _results(sku: object, offer_ids: list[str], status: int, errors: list[JsonObject]
             ) -> list[JsonObject]:
    """One element per offer, or one for an inventory-item-only update (ebay.md §4)."""
    base: JsonObject = {"statusCode": status, "sku": sku, "errors": errors, "warnings": []}
    return [{**base, "offerId": offer_id} for offer_id in offer_ids] or [base]


def _owner(sim: EbaySimState, request: JsonObject) -> str | None:
    sku = request.get("sku")
    if isinstance(sku, str) and sku:
        return sku
    for node in request.get("offers") or []:
        offer = sim.offers.get(str(node.get("offerId"))) if isinstance(node, dict) else None
        if offer is not None:
            return offer.sku
    return None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _distributions(ship: object) -> dict[str, int] | None:
    """{merchantLocationKey: quantity}; {} when none were sent; None when malformed."""
    nodes = ship.get("availabilityDistributions") if isinstance(ship, dict) else None
    if nodes is None:
        return {}
    if not isinstance(nodes, list) or not all(
            isinstance(n, dict) and isinstance(n.get("merchantLocationKey"), str)
            and _count(n.get("quantity")) for n in nodes):
        return None
    return {str(n["merchantLocationKey"]): int(n["quantity"]) for n in nodes}


def _dig(body: object, *path: str) -> Any:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body
