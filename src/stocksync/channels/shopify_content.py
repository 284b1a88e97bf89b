"""Shopify content writes: `productUpdate` (title, descriptionHtml, seo) per product and
`productVariantsBulkUpdate` (price, compareAtPrice) per product's variants, through the
connector's GraphQL transport and its cost-point pacer (shared with quantity pushes).

Shopify Admin GraphQL reference (shopify.dev/docs/api/admin-graphql): productUpdate takes
`product: ProductUpdateInput` (id, title, descriptionHtml, seo {title, description}) and does
not touch variants; prices are per variant through productVariantsBulkUpdate(productId,
variants: [ProductVariantsBulkInput {id, price, compareAtPrice}]). Both answer userErrors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stocksync.channels.content_base import ContentReport, ContentWrite, WriterBase
from stocksync.channels.shopify import ShopifyConnector
from stocksync.channels.shopify_inventory_wire import location_gid
from stocksync.channels.shopify_throttle import (
    MUTATION_COST,
    VARIANT_COST_PER_NODE,
    VARIANT_PAGE_OVERHEAD,
)
from stocksync.core.channel_rules import location_legs
from stocksync.core.content import PUBLISHED

# `published`: the product's status, ACTIVE, or ARCHIVED once the item is soft-deleted
# (ProductStatus: "no longer being sold and isn't available to customers").
PRODUCT_FIELDS = frozenset({"title", "description", "seo_title", "seo_description", PUBLISHED})
SKUS_PER_SEARCH = 50
FIND_VARIANTS = """
query StocksyncContentVariants($first: Int!, $query: String) {
  productVariants(first: $first, query: $query) { nodes { id sku product { id } } }
}"""
PRODUCT_UPDATE = """
mutation StocksyncProductUpdate($product: ProductUpdateInput!, $media: [CreateMediaInput!]) {
  productUpdate(product: $product, media: $media) {
    product { id title }
    userErrors { field message }
    mediaUserErrors { field message code }
  }
}"""
PRODUCT_CREATE = """
mutation StocksyncProductCreate($product: ProductCreateInput!, $media: [CreateMediaInput!]) {
  productCreate(product: $product, media: $media) {
    product { id title }
    userErrors { field message }
    mediaUserErrors { field message code }
  }
}"""
PRODUCT_MEDIA = """
query StocksyncProductMedia($id: ID!) {
  product(id: $id) { media(first: 250) { nodes { id } } }
}"""
DETACH_MEDIA = """
mutation StocksyncDetachMedia($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) { files { id } userErrors { field message code } }
}"""
MAX_MEDIA = 250  # media per product (Shopify's limit)
VARIANTS_CREATE = """
mutation StocksyncVariantsCreate($productId: ID!, $variants: [ProductVariantsBulkInput!]!,
                                 $strategy: ProductVariantsBulkCreateStrategy) {
  productVariantsBulkCreate(productId: $productId, variants: $variants, strategy: $strategy) {
    productVariants { id sku inventoryItem { id } }
    userErrors { field message code }
  }
}"""
VARIANTS_UPDATE = """
mutation StocksyncVariantPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id price compareAtPrice }
    userErrors { field message code }
  }
}"""


def _media(images: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """CreateMediaInput per image: the URL Shopify fetches it from, its alt text."""
    return [{"originalSource": i["url"], "alt": i.get("alt") or "",
             "mediaContentType": "IMAGE"} for i in images or []]


def _errors(payload: dict[str, Any]) -> str | None:
    errors = (payload.get("userErrors") or []) + (payload.get("mediaUserErrors") or [])
    if not errors:
        return None
    return "; ".join(f"{'.'.join(e.get('field') or [])}: {e.get('message')}" for e in errors)


class ShopifyContentWriter(WriterBase[ShopifyConnector]):
    fields: ClassVar[frozenset[str]] = PRODUCT_FIELDS | {"price", "images"}
    max_batch: ClassVar[int] = 50

    def __init__(self, connector: ShopifyConnector,
                 settings: Mapping[str, str] | None = None) -> None:
        super().__init__(connector, settings)
        self.ids: dict[str, tuple[str, str]] = {}  # sku -> (product GID, variant GID)

    async def _graphql(self, query: str, variables: dict[str, Any], cost: int,
                       report: ContentReport) -> dict[str, Any]:
        report.calls += 1
        # The connector's own transport: one pacer for quantity and content calls alike.
        return await self.connector._graphql(query, variables, cost)

    async def _resolve(self, skus: list[str], report: ContentReport) -> None:
        missing = [s for s in skus if s not in self.ids]
        for i in range(0, len(missing), SKUS_PER_SEARCH):
            chunk = missing[i:i + SKUS_PER_SEARCH]
            search = " OR ".join(f'sku:"{s}"' for s in chunk)
            cost = VARIANT_PAGE_OVERHEAD + len(chunk) * (VARIANT_COST_PER_NODE + 1)
            data = await self._graphql(FIND_VARIANTS, {"first": len(chunk), "query": search},
                                       cost, report)
            for node in (data.get("productVariants") or {}).get("nodes") or []:
                if node.get("sku") in chunk:
                    self.ids[node["sku"]] = (node["product"]["id"], node["id"])

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport:
        report = ContentReport()
        await self._resolve([w.sku for w in writes], report)
        prices: dict[str, list[ContentWrite]] = {}
        for w in writes:
            ids = self.ids.get(w.sku)
            if ids is None:  # published by create() when the channel has create_missing
                report.missing.add(w.sku)
                continue
            product_id, _ = ids
            fields = (PRODUCT_FIELDS | {"images"}) & set(w.send)
            if len(w.send.get("images") or []) > MAX_MEDIA:
                report.rejected[w.sku] = f"Shopify takes at most {MAX_MEDIA} images a product"
                continue
            if fields and not await self._product(product_id, w, fields, report):
                continue
            if "price" in w.send:
                prices.setdefault(product_id, []).append(w)
        for product_id, group in prices.items():
            await self._prices(product_id, group, report)
        return report

    async def _product(self, product_id: str, w: ContentWrite, fields: set[str],
                       report: ContentReport) -> bool:
        product: dict[str, Any] = {"id": product_id}
        if "title" in fields:
            product["title"] = w.send["title"]
        if "description" in fields:
            product["descriptionHtml"] = w.send["description"] or ""
        if PUBLISHED in fields:
            product["status"] = "ACTIVE" if w.send[PUBLISHED] else "ARCHIVED"
        if fields & {"seo_title", "seo_description"}:
            # SEOInput is sent whole: both from the current values.
            product["seo"] = {"title": w.current.get("seo_title"),
                              "description": w.current.get("seo_description")}
        variables: dict[str, Any] = {"product": product}
        if "images" in fields:  # replaced whole: the old ones off the product, the new on
            if (error := await self._detach_media(product_id, report)) is not None:
                report.rejected[w.sku] = error
                return False
            variables["media"] = _media(w.send["images"])
        data = await self._graphql(PRODUCT_UPDATE, variables, MUTATION_COST, report)
        payload = data.get("productUpdate") or {}
        if (error := _errors(payload)) is not None:
            report.rejected[w.sku] = error
            return False
        report.wrote(w.sku, fields)
        return True

    async def _prices(self, product_id: str, group: list[ContentWrite],
                      report: ContentReport) -> None:
        variants = []
        for w in group:
            price = w.send["price"] or {}
            variants.append({"id": self.ids[w.sku][1], "price": price.get("amount"),
                             "compareAtPrice": price.get("compare_at")})
        data = await self._graphql(VARIANTS_UPDATE, {"productId": product_id,
                                                     "variants": variants},
                                   MUTATION_COST, report)
        payload = data.get("productVariantsBulkUpdate") or {}
        if (error := _errors(payload)) is not None:
            for w in group:  # fields already written stay acknowledged
                report.rejected[w.sku] = error
            return
        for w in group:
            report.wrote(w.sku, {"price"})

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport:
        """CreatesListings: per SKU, productCreate (title, descriptionHtml, ACTIVE) then
        productVariantsBulkCreate of its variant (the SKU on its inventory item, tracked,
        price and compare-at, 0 available at the channel's location: the quantity push
        sets it next), replacing the standalone default variant. `created`: the inventory
        item's GID, the id quantity pushes address."""
        report = ContentReport()
        for w in writes:
            title = (w.current.get("title") or "").strip()
            if not title:
                report.rejected[w.sku] = "Shopify needs a title to create a product"
                continue
            data = await self._graphql(PRODUCT_CREATE, {"product": {
                "title": title, "descriptionHtml": w.current.get("description") or "",
                "status": "ACTIVE"}, "media": _media(w.current.get("images")[:MAX_MEDIA])},
                MUTATION_COST, report)
            payload = data.get("productCreate") or {}
            if (error := _errors(payload)) is not None:
                report.rejected[w.sku] = f"productCreate: {error}"
                continue
            product_id = payload["product"]["id"]
            price = w.current.get("price") or {}
            variant = {"inventoryItem": {"sku": w.sku, "tracked": True},
                       "price": price.get("amount") or "0.00",
                       "compareAtPrice": price.get("compare_at"),
                       "inventoryQuantities": [{"locationId": location, "availableQuantity": 0}
                                               for location in self._stocked_at()]}
            data = await self._graphql(VARIANTS_CREATE, {
                "productId": product_id, "variants": [variant],
                "strategy": "REMOVE_STANDALONE_VARIANT"}, MUTATION_COST, report)
            payload = data.get("productVariantsBulkCreate") or {}
            if (error := _errors(payload)) is not None:
                report.rejected[w.sku] = f"productVariantsBulkCreate: {error}"
                continue
            made = payload["productVariants"][0]
            self.ids[w.sku] = (product_id, made["id"])
            report.created[w.sku] = made["inventoryItem"]["id"]
            report.wrote(w.sku, [n for n in ("title", "description", "price", "images",
                                             PUBLISHED) if n in w.send])
        return report

    def _stocked_at(self) -> list[str]:
        """Where a new variant is stocked: the channel's location, and every mapped store
        location (`location_map.<id>`), so each can be given its own quantity."""
        mapped = [location_gid(leg) for leg in location_legs(self.settings)]
        return list(dict.fromkeys([self.connector.location_id, *mapped]))

    async def _detach_media(self, product_id: str, report: ContentReport) -> str | None:
        """Take the product's current images off it (fileUpdate referencesToRemove, what
        Shopify documents in place of the deprecated productDeleteMedia)."""
        data = await self._graphql(PRODUCT_MEDIA, {"id": product_id}, 3, report)
        nodes = ((data.get("product") or {}).get("media") or {}).get("nodes") or []
        if not nodes:
            return None
        data = await self._graphql(DETACH_MEDIA, {"files": [
            {"id": n["id"], "referencesToRemove": [product_id]} for n in nodes]},
            MUTATION_COST, report)
        return _errors(data.get("fileUpdate") or {})
