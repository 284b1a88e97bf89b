"""eBay content writes (Sell Inventory API, developer.ebay.com/api-docs/sell/inventory):

- title, description, item specifics (`aspects`), images (`imageUrls`):
  createOrReplaceInventoryItem, `PUT /inventory_item/{sku}` with `Content-Language`. It
  replaces the whole record, so the record is read first (getInventoryItem) and its
  availability, condition and other product fields are sent back unchanged;
- price: bulkUpdatePriceQuantity, `offers: [{offerId, price {value, currency}}]` for the
  SKU's published offer (found with getOffers when the connector has not mapped it);
- `published` (create_missing channels): a soft-deleted item's listing is ended with
  withdrawOffer (`POST /offer/{offerId}/withdraw`: the offer stays, UNPUBLISHED) and a
  restored one listed again with publishOffer, as eBay documents relisting a withdrawn offer.

Limits checked before sending, each a refusal with eBay's reason: title at most 80
characters, aspect names and values at most 65, at most 24 images. Calls go through the
connector's session (token, and its pacer for the app's daily call quota).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from stocksync.channels.base import Unavailable
from stocksync.channels.content_base import ContentReport, ContentWrite, WriterBase
from stocksync.channels.ebay import EbayConnector
from stocksync.channels.ebay_auth import BadRequest, json_body, raise_for_status
from stocksync.core.content import PUBLISHED

BASE = "/sell/inventory/v1"
PRODUCT_FIELDS = frozenset({"title", "description", "aspects", "images"})
MAX_TITLE = 80  # Product.title: "Max Length: 80"
MAX_ASPECT = 65  # item specific names and values
MAX_IMAGES = 24
LANGUAGES = {"EBAY_US": "en-US", "EBAY_GB": "en-GB", "EBAY_DE": "de-DE", "EBAY_AU": "en-AU",
             "EBAY_CA": "en-CA", "EBAY_FR": "fr-FR", "EBAY_IT": "it-IT", "EBAY_ES": "es-ES"}


def refusal(send: dict[str, Any], current: dict[str, Any]) -> str | None:
    """eBay's own limits, checked before anything is sent."""
    title = current.get("title") or ""
    if len(title) > MAX_TITLE:
        return f"eBay titles are at most {MAX_TITLE} characters (this one has {len(title)})"
    for name, values in (current.get("aspects") or {}).items():
        if len(name) > MAX_ASPECT or any(len(v) > MAX_ASPECT for v in values):
            return f"eBay item specific {name!r}: names and values are at most {MAX_ASPECT} " \
                   "characters"
    if len(current.get("images") or []) > MAX_IMAGES:
        return f"eBay listings take at most {MAX_IMAGES} images"
    return None


class EbayContentWriter(WriterBase[EbayConnector]):
    fields: ClassVar[frozenset[str]] = PRODUCT_FIELDS | {"price", PUBLISHED}
    max_batch: ClassVar[int] = 25

    @property
    def language(self) -> str:  # Content-Language of the marketplace's listings
        return LANGUAGES.get(self.connector.marketplace_id, "en-US")

    async def _call(self, method: str, path: str, report: ContentReport, *,
                    params: dict[str, str | int] | None = None,
                    body: dict[str, Any] | None = None,
                    missing_ok: bool = False) -> httpx.Response | None:
        """One call through the connector's session: its pacer and its token; PUT
        inventory_item also needs Content-Language, which the session does not send."""
        session = self.connector.session
        report.calls += 1
        await session.pacer.take()
        token = await session._access_token()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Content-Language": self.language}
        try:
            response = await session.client.request(method, f"{session.api_url}{path}",
                                                    params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"eBay unreachable: {exc!r}") from exc
        return raise_for_status(response, missing_ok)

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport:
        report = ContentReport()
        prices: list[ContentWrite] = []
        for w in writes:
            if (reason := refusal(w.send, w.current)) is not None:
                report.rejected[w.sku] = reason
                continue
            fields = PRODUCT_FIELDS & set(w.send)
            try:
                if PUBLISHED in w.send and not await self._end_or_relist(w, report):
                    continue
                if fields and not await self._product(w, report):
                    continue
            except BadRequest as exc:  # this SKU's record refused: the others go on
                report.rejected[w.sku] = str(exc)
                continue
            report.wrote(w.sku, fields)
            if "price" in w.send:
                prices.append(w)
        per_call = max(1, self.connector.skus_per_call)
        for i in range(0, len(prices), per_call):
            await self._prices(prices[i:i + per_call], report)
        return report

    async def _product(self, w: ContentWrite, report: ContentReport) -> bool:
        path = f"{BASE}/inventory_item/{w.sku}"
        found = await self._call("GET", path, report, missing_ok=True)
        if found is None:
            report.missing.add(w.sku)  # published if the channel has create_missing
            return False
        record = json_body(found)
        product = dict(record.get("product") or {})
        current = w.current
        product["title"] = current.get("title") or ""
        if current.get("description"):
            product["description"] = current["description"]
        else:
            product.pop("description", None)
        if current.get("aspects"):
            product["aspects"] = current["aspects"]
        images = [i["url"] for i in current.get("images") or []]
        if images:
            product["imageUrls"] = images
        else:
            product.pop("imageUrls", None)
        body = {k: v for k, v in record.items() if k not in ("sku", "locale", "groupIds",
                                                             "inventoryItemGroupKeys")}
        body["product"] = product
        await self._call("PUT", path, report, body=body)
        return True

    async def _end_or_relist(self, w: ContentWrite, report: ContentReport) -> bool:
        """withdrawOffer for a deleted item's published offer, publishOffer for a restored
        item's unpublished one (a new listing: its quantity is pushed again, `created`).
        False when eBay has no offer of the SKU on this marketplace (create_missing)."""
        response = await self._call("GET", f"{BASE}/offer", report,
                                    params={"sku": w.sku}, missing_ok=True)
        offers = [o for o in (json_body(response).get("offers") or [])
                  if isinstance(o, dict) and o.get("offerId")
                  and o.get("marketplaceId", self.connector.marketplace_id)
                  == self.connector.marketplace_id] if response is not None else []
        if not offers:
            report.missing.add(w.sku)
            return False
        mapped = self.connector.mapping.get(w.sku)
        offer = next((o for o in offers if str(o["offerId"]) == mapped), offers[0])
        offer_id, live = str(offer["offerId"]), offer.get("status") == "PUBLISHED"
        if w.send[PUBLISHED] and not live:
            await self._call("POST", f"{BASE}/offer/{offer_id}/publish/", report)
            self.connector.mapping[w.sku] = report.created[w.sku] = offer_id
        elif not w.send[PUBLISHED] and live:
            await self._call("POST", f"{BASE}/offer/{offer_id}/withdraw", report)
        report.wrote(w.sku, {PUBLISHED})
        return True

    async def _offer_id(self, sku: str, report: ContentReport) -> str | None:
        mapped = self.connector.mapping.get(sku)
        if mapped:
            return mapped
        response = await self._call("GET", f"{BASE}/offer", report,
                                    params={"sku": sku}, missing_ok=True)
        offers = (json_body(response).get("offers") or []) if response is not None else []
        published = [o for o in offers if isinstance(o, dict) and o.get("status") == "PUBLISHED"]
        if not published:
            return None
        offer_id = str(published[0]["offerId"])
        self.connector.mapping[sku] = offer_id
        return offer_id

    async def _prices(self, chunk: list[ContentWrite], report: ContentReport) -> None:
        requests = []
        for w in chunk:
            price = w.send["price"] or {}
            if price.get("amount") is None:
                report.wrote(w.sku, {"price"})  # eBay keeps a price: nothing to clear
                continue
            offer_id = await self._offer_id(w.sku, report)
            if offer_id is None:
                report.rejected[w.sku] = "eBay has no published offer for this SKU"
                continue
            requests.append((w, {"offers": [{"offerId": offer_id, "price": {
                "value": price["amount"], "currency": price.get("currency") or "USD"}}]}))
        if not requests:
            return
        response = await self._call("POST", f"{BASE}/bulk_update_price_quantity", report,
                                    body={"requests": [r for _, r in requests]})
        results = json_body(response).get("responses") or [] if response is not None else []
        by_offer = {str(r.get("offerId")): r for r in results if isinstance(r, dict)}
        for w, request in requests:
            result = by_offer.get(request["offers"][0]["offerId"])
            if result is None:
                continue
            if result.get("statusCode") == 200:
                report.wrote(w.sku, {"price"})
            else:
                errors = result.get("errors") or []
                report.rejected[w.sku] = "; ".join(
                    f"{e.get('errorId')}: {e.get('message')}" for e in errors) or "refused"

    # -- create_missing ---------------------------------------------------------------------
    def new_listing_refusal(self, current: dict[str, Any]) -> str | None:
        """What eBay would refuse when publishing, said before anything is sent: a title
        (at most 80 characters), a price, a picture, a category (settings.category_id) and
        the category's required item specifics (settings.required_aspects, comma-separated;
        Brand by default)."""
        required = [a.strip() for a in self.settings.get("required_aspects", "Brand").split(",")
                    if a.strip()]
        aspects = current.get("aspects") or {}
        price = current.get("price") or {}
        problems = [p for p, bad in (
            ("a title", not (current.get("title") or "").strip()),
            ("a price", price.get("amount") is None),
            ("at least one picture", not current.get("images")),
            ("a category (settings.category_id)", not self.settings.get("category_id")),
        ) if bad]
        problems += [f"the item specific {a}" for a in required if not aspects.get(a)]
        if problems:
            return "an eBay listing needs " + ", ".join(problems)
        return refusal({}, current)

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport:
        """createOrReplaceInventoryItem (quantity 0: the quantity pusher sets it next),
        createOffer (FIXED_PRICE, the channel's category and policies), publishOffer."""
        report = ContentReport()
        for w in writes:
            if (reason := self.new_listing_refusal(w.current)) is not None:
                report.rejected[w.sku] = reason
                continue
            try:
                offer_id = await self._publish(w, report)
            except BadRequest as exc:
                report.rejected[w.sku] = str(exc)
                continue
            self.connector.mapping[w.sku] = report.created[w.sku] = offer_id
            report.wrote(w.sku, set(w.send) & self.fields)
        return report

    async def _publish(self, w: ContentWrite, report: ContentReport) -> str:
        current, s = w.current, self.settings
        product: dict[str, Any] = {"title": current["title"],
                                   "imageUrls": [i["url"] for i in current["images"]],
                                   "aspects": current.get("aspects") or {}}
        if current.get("description"):
            product["description"] = current["description"]
        await self._call("PUT", f"{BASE}/inventory_item/{w.sku}", report, body={
            "product": product, "condition": "NEW",
            "availability": {"shipToLocationAvailability": {"quantity": 0}}})
        price = current["price"]
        offer: dict[str, Any] = {
            "sku": w.sku, "marketplaceId": self.connector.marketplace_id,
            "format": "FIXED_PRICE", "availableQuantity": 0, "categoryId": s["category_id"],
            "pricingSummary": {"price": {"value": price["amount"],
                                         "currency": price.get("currency") or "USD"}}}
        policies = {k: s[f] for k, f in (("fulfillmentPolicyId", "fulfillment_policy_id"),
                                         ("paymentPolicyId", "payment_policy_id"),
                                         ("returnPolicyId", "return_policy_id")) if s.get(f)}
        if policies:
            offer["listingPolicies"] = policies
        if self.connector.merchant_location_key:
            offer["merchantLocationKey"] = self.connector.merchant_location_key
        created = await self._call("POST", f"{BASE}/offer", report, body=offer)
        offer_id = str(json_body(created)["offerId"]) if created is not None else ""
        await self._call("POST", f"{BASE}/offer/{offer_id}/publish/", report)
        return offer_id
