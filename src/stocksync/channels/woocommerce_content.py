"""WooCommerce content writes: `POST /products/batch` (and `/products/{id}/variations/batch`
for variations) with `name`, `description`, `regular_price`, `sale_price` and `images`
(a variation has one `image`), through the connector's paced transport.

WooCommerce REST API v3 (woocommerce.github.io/woocommerce-rest-api-docs, "Update a
product" / "Batch update products"): prices are strings; a sale is `sale_price` below
`regular_price` (an empty `sale_price` ends it); `images` replaces the gallery, each
`{src, alt}`. A batch holds at most 100 objects; each result is the product or
`{id, error: {code, message}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from stocksync.channels.base import Unavailable
from stocksync.channels.content_base import ContentReport, ContentWrite, WriterBase
from stocksync.channels.woocommerce import ItemRef, WooCommerceConnector
from stocksync.core.content import PUBLISHED


def woo_prices(price: dict[str, Any] | None) -> dict[str, str]:
    """stocksync's price and compare-at price -> WooCommerce's regular and sale price."""
    if not price or price.get("amount") is None:
        return {"regular_price": "", "sale_price": ""}
    amount, compare = price["amount"], price.get("compare_at")
    if compare is not None and Decimal(compare) > Decimal(amount):
        return {"regular_price": compare, "sale_price": amount}
    return {"regular_price": amount, "sale_price": ""}


def _payload(ref: ItemRef, send: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"id": ref.item_id}
    if "title" in send and ref.variation_id is None:
        body["name"] = send["title"] or ""
    if "description" in send:
        body["description"] = send["description"] or ""
    if "price" in send:
        body.update(woo_prices(send["price"]))
    if PUBLISHED in send:  # soft-deleted: a draft product, a private (disabled) variation
        body["status"] = "publish" if send[PUBLISHED] else (
            "draft" if ref.variation_id is None else "private")
    if "images" in send:
        images = [{"src": i["url"], "alt": i.get("alt") or ""} for i in send["images"]]
        if ref.variation_id is None:
            body["images"] = images
        else:
            body["image"] = images[0] if images else None
    return body


class WooCommerceContentWriter(WriterBase[WooCommerceConnector]):
    fields: ClassVar[frozenset[str]] = frozenset({"title", "description", "price", "images",
                                                  PUBLISHED})
    max_batch: ClassVar[int] = 100

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport:
        report = ContentReport()
        c = self.connector
        unmapped = [w.sku for w in writes if ItemRef.parse(c.mapping.get(w.sku)) is None]
        if unmapped:
            report.calls += 1
            for sku, row in (await c._search_skus(unmapped)).items():
                ref = ItemRef.of(row)
                if ref is not None:
                    c.mapping[sku] = str(ref)
        groups: dict[str, list[tuple[ContentWrite, ItemRef]]] = {}
        for w in writes:
            ref = ItemRef.parse(c.mapping.get(w.sku))
            if ref is None:
                report.missing.add(w.sku)  # created if the channel has create_missing
                continue
            groups.setdefault(ref.batch_path, []).append((w, ref))
        for path, group in groups.items():
            for i in range(0, len(group), c.batch_limit):
                await self._batch(path, group[i:i + c.batch_limit], report)
        return report

    async def _batch(self, path: str, chunk: list[tuple[ContentWrite, ItemRef]],
                     report: ContentReport) -> None:
        report.calls += 1
        body, _ = await self.connector._call(
            "POST", path, json={"update": [_payload(ref, w.send) for w, ref in chunk]})
        results = body.get("update") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise Unavailable("WooCommerce answered the batch without an update list")
        by_id = {r.get("id"): r for r in results if isinstance(r, dict)}
        for w, ref in chunk:
            result = by_id.get(ref.item_id)
            if result is None:
                continue  # not confirmed: the pusher tries again
            error = result.get("error")
            if isinstance(error, dict):
                report.rejected[w.sku] = f"{error.get('code')}: {error.get('message')}"
                continue
            # A variation's name comes from its parent and attributes: its title is not
            # WooCommerce's to show, so it counts as settled with the rest.
            report.wrote(w.sku, set(w.send) & self.fields)

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport:
        """Publish simple products for SKUs the store does not list: `POST /products/batch`
        with `create` (stock managed, at 0: the quantity pusher sets it next)."""
        report = ContentReport()
        todo = []
        for w in writes:
            if not (w.current.get("title") or "").strip():
                report.rejected[w.sku] = "WooCommerce needs a product name: the item has no title"
                continue
            body = _payload(ItemRef(0), w.send)
            del body["id"]
            todo.append((w, {**body, "sku": w.sku, "type": "simple", "status": "publish",
                             "manage_stock": True, "stock_quantity": 0}))
        c = self.connector
        for i in range(0, len(todo), c.batch_limit):
            chunk = todo[i:i + c.batch_limit]
            report.calls += 1
            body, _ = await c._call("POST", "/products/batch",
                                    json={"create": [spec for _, spec in chunk]})
            results = body.get("create") if isinstance(body, dict) else None
            if not isinstance(results, list) or len(results) != len(chunk):
                raise Unavailable("WooCommerce answered the batch without a create list")
            for (w, _), result in zip(chunk, results, strict=True):
                error = result.get("error") if isinstance(result, dict) else None
                if isinstance(error, dict) or not isinstance(result, dict):
                    report.rejected[w.sku] = f"{(error or {}).get('code')}: " \
                                             f"{(error or {}).get('message')}"
                    continue
                c.mapping[w.sku] = report.created[w.sku] = str(result["id"])
                report.wrote(w.sku, set(w.send) & self.fields)
        return report
