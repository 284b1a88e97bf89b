"""Amazon content writes: one `patchListingsItem` per SKU (Listings Items API 2021-08-01,
developer-docs.amazon.com/sp-api/docs/partially-update-a-listing) with `replace` patches of
whole top-level attributes, the documented op for them (`merge` exists only for
`fulfillment_availability` quantities and `purchasable_offer` discount plans):

- `item_name`, `product_description`: [{value, language_tag, marketplace_id}]
- `purchasable_offer`: [{marketplace_id, currency, our_price: [{schedule: [{value_with_tax}]}]}]
  and `list_price` ([{marketplace_id, currency, value}]) for a compare-at price
- `main_product_image_locator`, `other_product_image_locator_1..8`: [{media_location,
  marketplace_id}]

A soft-deleted item's listing (create_missing channels, the `published` field) is ended
with deleteListingsItem; once restored, getListingsItem finds it gone and it is listed
again with putListingsItem (create(), the product type's required attributes checked).

Paced by the connector's per-operation pacer (patchListingsItem: 5 requests/s, burst 5).
`ACCEPTED` means Amazon queued the change: it counts as written; `INVALID` is a refusal
with Amazon's issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from stocksync.channels import amazon_feeds as feeds
from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.amazon_auth import RequestRefused
from stocksync.channels.content_base import ContentReport, ContentWrite, WriterBase
from stocksync.core.content import PUBLISHED

LANGUAGE = "en_US"
NOT_FOUND = "NOT_FOUND"  # the patch's issue for a SKU the seller has no listing of
MAX_OTHER_IMAGES = 8


def patches(send: dict[str, Any], marketplace: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def replace(attribute: str, value: list[dict[str, Any]]) -> None:
        out.append({"op": "replace", "path": f"/attributes/{attribute}", "value": value})

    if "title" in send:
        replace("item_name", [{"value": send["title"] or "", "language_tag": LANGUAGE,
                               "marketplace_id": marketplace}])
    if send.get("description"):
        replace("product_description", [{"value": send["description"],
                                         "language_tag": LANGUAGE,
                                         "marketplace_id": marketplace}])
    price = send.get("price")
    if price and price.get("amount") is not None:
        currency = price.get("currency") or "USD"
        replace("purchasable_offer", [{
            "marketplace_id": marketplace, "currency": currency,
            "our_price": [{"schedule": [{"value_with_tax": float(Decimal(price["amount"]))}]}]}])
        if price.get("compare_at") is not None:
            replace("list_price", [{"marketplace_id": marketplace, "currency": currency,
                                    "value": float(Decimal(price["compare_at"]))}])
    if send.get("images"):
        urls = [i["url"] for i in send["images"]][:MAX_OTHER_IMAGES + 1]
        replace("main_product_image_locator", [{"media_location": urls[0],
                                                "marketplace_id": marketplace}])
        for n, url in enumerate(urls[1:], start=1):
            replace(f"other_product_image_locator_{n}", [{"media_location": url,
                                                           "marketplace_id": marketplace}])
    return out


class AmazonContentWriter(WriterBase[AmazonConnector]):
    fields: ClassVar[frozenset[str]] = frozenset({"title", "description", "price", "images",
                                                  PUBLISHED})
    max_batch: ClassVar[int] = 20

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport:
        report = ContentReport()
        c = self.connector
        for w in writes:
            if PUBLISHED in w.send and not await self._end_or_keep(w, report):
                continue
            ops = patches(w.send, c.marketplace_id)
            if not ops:
                report.wrote(w.sku, set(w.send))  # nothing Amazon holds for these values
                continue
            report.calls += 1
            answer = await c.api.call(
                "patchListingsItem", "PATCH", c._listing_path(w.sku),
                params={"marketplaceIds": c.marketplace_id, "includedData": "issues"},
                body={"productType": feeds.PRODUCT_TYPE, "patches": ops})
            if answer.get("status") == "ACCEPTED":
                report.wrote(w.sku, set(w.send))
            elif any(i.get("code") == NOT_FOUND for i in answer.get("issues") or []):
                report.missing.add(w.sku)  # created by create() with create_missing
            else:
                issues = [i for i in answer.get("issues") or [] if i.get("severity") == "ERROR"]
                report.rejected[w.sku] = "; ".join(
                    f"{i.get('code')}: {i.get('message')}" for i in issues) or "INVALID"
        return report

    async def _end_or_keep(self, w: ContentWrite, report: ContentReport) -> bool:
        """deleteListingsItem for a deleted item; for a live one, getListingsItem: a
        listing Amazon no longer has is `missing` (put again by create()). True when the
        other fields go on as a patch."""
        c = self.connector
        report.calls += 1
        if not w.send[PUBLISHED]:
            try:
                answer = await c.api.call("deleteListingsItem", "DELETE",
                                          c._listing_path(w.sku),
                                          params={"marketplaceIds": c.marketplace_id})
            except RequestRefused as exc:  # 404: no listing of it, nothing to end
                answer = {"status": "ACCEPTED"} if exc.status == 404 else {
                    "issues": [{"code": exc.status, "message": str(exc)}]}
            if answer.get("status") == "ACCEPTED":
                report.wrote(w.sku, {PUBLISHED})
            else:
                report.rejected[w.sku] = "deleteListingsItem: " + ("; ".join(
                    f"{i.get('code')}: {i.get('message')}" for i in answer.get("issues") or [])
                    or "INVALID")
            return False
        try:
            await c.api.call("getListingsItem", "GET", c._listing_path(w.sku),
                             params={"marketplaceIds": c.marketplace_id,
                                     "includedData": "summaries"})
        except RequestRefused as exc:
            if exc.status == 404:
                report.missing.add(w.sku)
            else:
                report.rejected[w.sku] = str(exc)
            return False
        report.wrote(w.sku, {PUBLISHED})
        return True

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport:
        """CreatesListings: one putListingsItem (requirements LISTING) per SKU, with the
        attributes the channel's product type requires checked before sending (each one
        missing is a refusal naming it, no call made); Amazon's own issues otherwise."""
        report = ContentReport()
        c = self.connector
        product_type, required = listing_requirements(self.settings)
        for w in writes:
            attributes = listing_attributes(w.current, c.marketplace_id,
                                            self.settings.get("condition_type", "new_new"))
            missing = [name for name in required if not attributes.get(name)]
            if missing:
                report.rejected[w.sku] = (
                    f"Amazon product type {product_type} requires {', '.join(missing)}: "
                    f"{', '.join(WHY.get(m, 'set it on the item') for m in missing)}")
                continue
            report.calls += 1
            answer = await c.api.call(
                "putListingsItem", "PUT", c._listing_path(w.sku),
                params={"marketplaceIds": c.marketplace_id, "includedData": "issues"},
                body={"productType": product_type, "requirements": "LISTING",
                      "attributes": attributes})
            if answer.get("status") == "ACCEPTED":
                report.created[w.sku] = w.sku  # Amazon addresses a listing by its SKU
                report.wrote(w.sku, set(w.send))
                continue
            issues = [i for i in answer.get("issues") or [] if i.get("severity") == "ERROR"]
            report.rejected[w.sku] = "putListingsItem: " + ("; ".join(
                f"{i.get('code')}: {i.get('message')}" for i in issues) or "INVALID")
        return report


# Required attributes for a LISTING of each product type stocksync fills itself; another
# product type takes its list from the channel's `required_attributes` setting.
REQUIRED: dict[str, tuple[str, ...]] = {
    "PRODUCT": ("item_name", "brand", "condition_type", "purchasable_offer",
                "externally_assigned_product_identifier"),
}
WHY = {"item_name": "the item has no title", "brand": "the item has no brand",
       "purchasable_offer": "the item has no price",
       "externally_assigned_product_identifier": "the item has no barcode (EAN/UPC/GTIN)"}


def listing_requirements(settings: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    product_type = settings.get("product_type", feeds.PRODUCT_TYPE)
    given = settings.get("required_attributes")
    required = tuple(a.strip() for a in given.split(",") if a.strip()) if given else \
        REQUIRED.get(product_type, REQUIRED[feeds.PRODUCT_TYPE])
    return product_type, required


def listing_attributes(current: dict[str, Any], marketplace: str,
                       condition: str) -> dict[str, Any]:
    """A whole listing's attributes (putListingsItem) from the item's content."""
    attributes = {p["path"].rsplit("/", 1)[1]: p["value"] for p in patches(
        {k: current.get(k) for k in ("title", "description", "price", "images")}, marketplace)}
    if not (current.get("title") or "").strip():
        attributes.pop("item_name", None)
    if current.get("brand"):
        attributes["brand"] = [{"value": current["brand"], "marketplace_id": marketplace}]
    attributes["condition_type"] = [{"value": condition, "marketplace_id": marketplace}]
    barcodes = current.get("barcodes") or []
    if barcodes:
        code = barcodes[0]
        kind = "upc" if len(code) == 12 else "ean" if len(code) == 13 else "gtin"
        attributes["externally_assigned_product_identifier"] = [
            {"type": kind, "value": code, "marketplace_id": marketplace}]
    return attributes
