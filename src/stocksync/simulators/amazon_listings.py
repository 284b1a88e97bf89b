"""Listings Items 2021-08-01 semantics of the Amazon simulator: validating and applying JSON
Patch requests (shared by patchListingsItem and JSON_LISTINGS_FEED messages) and rendering
getListingsItem (amazon.md §2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import uuid4

from stocksync.simulators import amazon_catalog
from stocksync.simulators.amazon_state import (
    AmazonSimState,
    JsonObject,
    Listing,
    now_iso,
)

OPS = frozenset({"add", "replace", "merge", "delete"})
# Only top-level attributes can be patched (amazon.md §2.1).
TOP_LEVEL_PATH = re.compile(r"^/attributes/([a-z0-9_]+)$")
FULFILLMENT = "fulfillment_availability"
# Codes Amazon uses for attribute problems are not documented; 90000900 ("The attributes are
# invalid.") is the one seen in the wild (jlevers/selling-partner-api#861). Unconfirmed.
INVALID_ATTRIBUTE_CODE = "90000900"
UNKNOWN_SKU_CODE = "NOT_FOUND"  # only with unknown_sku="invalid" (a simulator mode)
INCLUDED_DATA = frozenset({"summaries", "attributes", "issues", "offers",
                           "fulfillmentAvailability", "procurement", "relationships",
                           "productTypes"})


class MalformedRequest(ValueError):
    """The request cannot be parsed at all: 400 InvalidInput / feed issue BAD_REQUEST."""


@dataclass(frozen=True, slots=True)
class AttributePatch:
    attribute: str
    op: str
    value: list[JsonObject]


@dataclass(slots=True)
class CheckedPatch:
    product_type: str
    patches: list[AttributePatch]
    issues: list[JsonObject] = field(default_factory=list)


def issue(message: str, attribute: str | None = FULFILLMENT,
          code: str = INVALID_ATTRIBUTE_CODE) -> JsonObject:
    return {"code": code, "message": message, "severity": "ERROR",
            "attributeNames": [attribute] if attribute else [],
            "categories": ["INVALID_ATTRIBUTE"] if attribute else []}


def check_patch(body: object) -> CheckedPatch:
    """Structure problems raise MalformedRequest; value problems become ERROR issues."""
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object")
    product_type, patches = body.get("productType"), body.get("patches")
    if not isinstance(product_type, str) or not product_type:
        raise MalformedRequest("productType is required")
    if not isinstance(patches, list) or not patches:
        raise MalformedRequest("patches must be a non-empty array")
    checked = CheckedPatch(product_type, [])
    for patch in patches:
        if not isinstance(patch, dict) or patch.get("op") not in OPS:
            raise MalformedRequest(f"op must be one of {sorted(OPS)}")
        match = TOP_LEVEL_PATH.match(str(patch.get("path")))
        if match is None:
            raise MalformedRequest(f"path {patch.get('path')!r} is not a top-level attribute")
        value = patch.get("value")
        if patch["op"] != "delete" and not (
                isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise MalformedRequest("value must be an array of objects")
        if match.group(1) == FULFILLMENT and patch["op"] != "delete":
            checked.issues += _fulfillment_issues(value or [])
        checked.issues += amazon_catalog.attribute_issues(  # content sync attributes
            match.group(1), patch["op"], value, issue)
        checked.patches.append(AttributePatch(match.group(1), patch["op"],
                                              value if isinstance(value, list) else []))
    return checked


def _fulfillment_issues(entries: list[JsonObject]) -> list[JsonObject]:
    found: list[JsonObject] = []
    for entry in entries:
        code = entry.get("fulfillment_channel_code")
        if not isinstance(code, str) or not code:
            # Amazon's wording (jlevers/selling-partner-api#493).
            found.append(issue("The field 'fulfillment_channel_code' for the attribute "
                               "'fulfillment_availability' does not have enough values. "
                               "The required minimum is '1' value(s)."))
        quantity = entry.get("quantity")
        if quantity is not None and (
                not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
            found.append(issue(f"The value '{quantity}' for 'quantity' in "
                               "'fulfillment_availability' must be a whole number of at "
                               "least 0."))
    return found


def unknown_sku_issue(sim: AmazonSimState, sku: str) -> JsonObject | None:
    if sku in sim.listings or sim.unknown_sku == "accept":
        return None
    return issue(f"SKU '{sku}' has no listing in this marketplace.", None, UNKNOWN_SKU_CODE)


def apply_patch(sim: AmazonSimState, sku: str, checked: CheckedPatch) -> None:
    """Apply an accepted patch now. Creates the offer-only listing for an unknown SKU."""
    listing = sim.listings.get(sku) or sim.offer_only_listing(sku, checked.product_type)
    before = listing.quantity
    for patch in checked.patches:
        if patch.attribute == FULFILLMENT:
            _patch_fulfillment(listing, patch.op, patch.value)
        elif patch.op == "delete":
            listing.attributes.pop(patch.attribute, None)
        else:
            listing.attributes[patch.attribute] = patch.value
    listing.updated_at = now_iso()
    sim.quantity_changed(listing, before)


def _patch_fulfillment(listing: Listing, op: str, value: list[JsonObject]) -> None:
    # Entries are keyed by fulfillment_channel_code: a replace naming AMAZON_NA adds that
    # channel next to DEFAULT rather than dropping it (amzn/selling-partner-api-models#2061).
    if op == "delete":
        codes = {entry.get("fulfillment_channel_code") for entry in value}
        for code in codes or set(listing.fulfillment):
            listing.fulfillment.pop(str(code), None)
        return
    for entry in value:
        code = str(entry["fulfillment_channel_code"])
        if op == "merge":  # keeps restock_date, lead_time_to_ship_max_days (amazon.md §2.1)
            listing.fulfillment[code] = {**listing.fulfillment.get(code, {}), **entry}
        else:
            listing.fulfillment[code] = dict(entry)


def submit_patch(sim: AmazonSimState, sku: str, checked: CheckedPatch, preview: bool
                 ) -> JsonObject:
    """patchListingsItem's answer; an ACCEPTED patch is applied after the configured delay."""
    issues = list(checked.issues)
    unknown = unknown_sku_issue(sim, sku)
    if unknown is not None:
        issues.append(unknown)
    valid = not any(i["severity"] == "ERROR" for i in issues)
    if valid and not preview:
        sim.later(sim.patch_apply_delay_s, partial(apply_patch, sim, sku, checked))
    status = ("VALID" if preview else "ACCEPTED") if valid else "INVALID"
    return {"sku": sku, "status": status, "submissionId": uuid4().hex, "issues": issues}


def render_listing(sim: AmazonSimState, listing: Listing, included: set[str]) -> JsonObject:
    """getListingsItem body with the requested includedData (default: summaries)."""
    marketplace = sim.config.marketplace_id
    body: JsonObject = {"sku": listing.sku}
    if "summaries" in included:
        summary: JsonObject = {
            "marketplaceId": marketplace, "productType": listing.product_type,
            "conditionType": "new_new", "status": listing.status,
            "itemName": f"Simulated item {listing.sku}",
            "createdDate": listing.created_at, "lastUpdatedDate": listing.updated_at}
        if listing.asin:
            summary["asin"] = listing.asin
        body["summaries"] = [summary]
    if "attributes" in included:
        attributes: dict[str, Any] = dict(listing.attributes)
        if listing.fulfillment:
            attributes[FULFILLMENT] = [{**entry, "marketplace_id": marketplace}
                                       for entry in listing.fulfillment.values()]
        body["attributes"] = attributes
    if "issues" in included:
        body["issues"] = []
    if "fulfillmentAvailability" in included:
        # camelCase here, snake_case inside attributes (amazon.md §2.2).
        body["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": code, **(
                {"quantity": entry["quantity"]} if isinstance(entry.get("quantity"), int)
                else {})}
            for code, entry in listing.fulfillment.items()]
    for name in ("offers", "procurement", "relationships", "productTypes"):
        if name in included:
            body[name] = ([{"marketplaceId": marketplace, "productType": listing.product_type}]
                          if name == "productTypes" else [])
    return body
