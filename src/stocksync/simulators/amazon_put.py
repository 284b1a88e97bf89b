"""putListingsItem in the Amazon simulator (Listings Items API 2021-08-01, "Create or fully
update a listing"): `PUT /listings/2021-08-01/items/{sellerId}/{sku}` with {productType,
requirements, attributes}. Checked like Amazon checks a LISTING submission against the
product type's definition: every required attribute must be there (issue 90220 "'<name>'
is required but not supplied."), each attribute's value as patchListingsItem checks it.
An ACCEPTED submission replaces the listing's attributes (after the configured delay, like
a patch); INVALID changes nothing.

deleteListingsItem (`DELETE` on the same path): the listing is removed (after the same
delay); a SKU the seller has no listing of is 404 NOT_FOUND, as getListingsItem answers.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import uuid4

from stocksync.simulators.amazon_catalog import attribute_issues
from stocksync.simulators.amazon_listings import FULFILLMENT, MalformedRequest, issue
from stocksync.simulators.amazon_state import AmazonSimState, JsonObject, now_iso

# Required attributes per product type for requirements=LISTING (a product type the
# simulator does not know is refused, as Amazon refuses an unknown one).
REQUIRED: dict[str, tuple[str, ...]] = {
    "PRODUCT": ("item_name", "brand", "condition_type", "purchasable_offer",
                "externally_assigned_product_identifier"),
}
MISSING_CODE = "90220"
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")


def put_listing(sim: AmazonSimState, sku: str, body: object) -> JsonObject:
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object")
    product_type, attributes = body.get("productType"), body.get("attributes")
    if not isinstance(product_type, str) or not isinstance(attributes, dict):
        raise MalformedRequest("productType and attributes are required")
    if body.get("requirements", "LISTING") not in REQUIREMENTS:
        raise MalformedRequest(f"requirements must be one of {', '.join(REQUIREMENTS)}")
    issues: list[JsonObject] = []
    if product_type not in REQUIRED:
        issues.append(issue(f"Product type '{product_type}' is not supported.", None,
                            "4000003"))
    for name in REQUIRED.get(product_type, ()):
        if not attributes.get(name):
            issues.append(issue(f"'{name}' is required but not supplied.", name, MISSING_CODE))
    for name, value in attributes.items():
        issues += attribute_issues(name, "replace", value, issue)
    if issues:
        return {"sku": sku, "status": "INVALID", "submissionId": uuid4().hex,
                "issues": issues}
    sim.later(sim.patch_apply_delay_s, partial(_apply, sim, sku, product_type, attributes))
    return {"sku": sku, "status": "ACCEPTED", "submissionId": uuid4().hex, "issues": []}


def _apply(sim: AmazonSimState, sku: str, product_type: str,
           attributes: dict[str, Any]) -> None:
    listing = sim.listings.get(sku) or sim.offer_only_listing(sku, product_type)
    before = listing.quantity
    listing.product_type = product_type
    listing.attributes = {k: v for k, v in attributes.items() if k != FULFILLMENT}
    for entry in attributes.get(FULFILLMENT) or []:
        listing.fulfillment[str(entry["fulfillment_channel_code"])] = dict(entry)
    listing.updated_at = now_iso()
    sim.quantity_changed(listing, before)


def delete_listing(sim: AmazonSimState, sku: str) -> JsonObject | None:
    """ListingsItemSubmissionResponse of a delete, or None when there is no listing."""
    if sku not in sim.listings:
        return None
    sim.later(sim.patch_apply_delay_s, partial(_remove, sim, sku))
    return {"sku": sku, "status": "ACCEPTED", "submissionId": uuid4().hex, "issues": []}


def _remove(sim: AmazonSimState, sku: str) -> None:
    sim.listings.pop(sku, None)
