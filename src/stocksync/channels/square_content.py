"""Square content writes (Catalog API, developer.squareup.com/docs/catalog-api/update-catalog-
objects): the SKU's ITEM_VARIATION is found with SearchCatalogObjects (set_query on `sku`),
then the ITEM (name, description, and its variation's price_money) is written back whole,
with the version just read: the Catalog API has no sparse updates and refuses a stale
version (VERSION_MISMATCH). Many SKUs go in one BatchUpsertCatalogObjects; a batch is all
or nothing, so a refused batch is retried object by object with UpsertCatalogObject to find
the one Square refuses. Paced by the connector's SquarePacer.

`published` (create_missing channels): a soft-deleted item's variation stops being sold at
the channel's location: the channel's location id goes into the variation's
`absent_at_location_ids` (the CatalogObject field for "not present here, even though
present_at_all_locations"), or out of its `present_at_location_ids` when it lists its
locations one by one; a restored item's variation gets it back. The rest of the lists is
kept as read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from stocksync.channels.base import Rejected
from stocksync.channels.content_base import ContentReport, ContentWrite, WriterBase
from stocksync.channels.square import SquareConnector
from stocksync.core.content import PUBLISHED

SEARCH_CHUNK = 100


def cents(amount: str) -> int:
    return int((Decimal(amount) * 100).to_integral_value())


def presence(variation: dict[str, Any], location: str, sold: bool) -> dict[str, Any]:
    """The variation's location fields with `location` added (sold) or taken out."""
    if variation.get("present_at_all_locations", True):
        absent = [i for i in variation.get("absent_at_location_ids") or [] if i != location]
        return {"present_at_all_locations": True,
                "absent_at_location_ids": absent if sold else [*absent, location]}
    present = [i for i in variation.get("present_at_location_ids") or [] if i != location]
    return {"present_at_all_locations": False,
            "present_at_location_ids": [*present, location] if sold else present}


class SquareContentWriter(WriterBase[SquareConnector]):
    fields: ClassVar[frozenset[str]] = frozenset({"title", "description", "price", PUBLISHED})
    max_batch: ClassVar[int] = 100

    async def _post(self, path: str, body: dict[str, Any],
                    report: ContentReport) -> dict[str, Any]:
        report.calls += 1
        return await self.connector._post_json(path, body)

    async def _variations(self, skus: list[str], report: ContentReport
                          ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(skus), SEARCH_CHUNK):
            chunk = skus[i:i + SEARCH_CHUNK]
            body = await self._post("/v2/catalog/search", {
                "object_types": ["ITEM_VARIATION"], "limit": 1000,
                "query": {"set_query": {"attribute_name": "sku", "attribute_values": chunk}}},
                report)
            for obj in body.get("objects") or []:
                sku = (obj.get("item_variation_data") or {}).get("sku")
                if sku in chunk:
                    found[sku] = obj
        return found

    def _item(self, w: ContentWrite, variation: dict[str, Any]) -> dict[str, Any]:
        data = dict(variation.get("item_variation_data") or {})
        price = w.current.get("price")
        if price and price.get("amount") is not None:
            data["price_money"] = {"amount": cents(price["amount"]),
                                   "currency": price.get("currency") or "USD"}
        written = {**variation, "item_variation_data": data}
        if PUBLISHED in w.send:
            written |= presence(variation, self.connector.location_id, w.send[PUBLISHED])
        return {"type": "ITEM", "id": data.get("item_id"), "version": variation.get("version"),
                "item_data": {"name": w.current.get("title") or w.sku,
                              "description": w.current.get("description") or "",
                              "variations": [written]}}

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport:
        report = ContentReport()
        found = await self._variations([w.sku for w in writes], report)
        todo = []
        for w in writes:
            if w.sku not in found:  # published by create() when the channel has create_missing
                report.missing.add(w.sku)
            else:
                todo.append((w, self._item(w, found[w.sku])))
        if not todo:
            return report
        try:
            await self._post("/v2/catalog/batch-upsert", {
                "idempotency_key": str(uuid.uuid4()),
                "batches": [{"objects": [obj for _, obj in todo]}]}, report)
        except Rejected:
            for w, obj in todo:  # all or nothing: find the refused ones one by one
                try:
                    await self._post("/v2/catalog/object", {
                        "idempotency_key": str(uuid.uuid4()), "object": obj}, report)
                except Rejected as exc:
                    report.rejected[w.sku] = f"{exc}: {exc.details}"
                    continue
                report.wrote(w.sku, set(w.send))
            return report
        for w, _ in todo:
            report.wrote(w.sku, set(w.send))
        return report

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport:
        """CreatesListings: per SKU one UpsertCatalogObject of a new ITEM (temporary `#` ids,
        as the Catalog API documents object creation) with its one ITEM_VARIATION: the SKU,
        FIXED_PRICING at the item's price, inventory tracked. `created`: the variation's
        id from `id_mappings`, the id quantity pushes address."""
        report = ContentReport()
        for w in writes:
            price = w.current.get("price") or {}
            if not (w.current.get("title") or "").strip():
                report.rejected[w.sku] = "Square needs a name to create an item"
                continue
            temp = uuid.uuid4().hex[:12]
            data: dict[str, Any] = {"item_id": f"#item-{temp}", "name": "Regular",
                                    "sku": w.sku, "pricing_type": "FIXED_PRICING",
                                    "track_inventory": True}
            if price.get("amount") is not None:
                data["price_money"] = {"amount": cents(price["amount"]),
                                       "currency": price.get("currency") or "USD"}
            obj = {"type": "ITEM", "id": f"#item-{temp}", "item_data": {
                "name": w.current["title"], "description": w.current.get("description") or "",
                "variations": [{"type": "ITEM_VARIATION", "id": f"#variation-{temp}",
                                "item_variation_data": data}]}}
            try:
                body = await self._post("/v2/catalog/object", {
                    "idempotency_key": str(uuid.uuid4()), "object": obj}, report)
            except Rejected as exc:
                report.rejected[w.sku] = f"UpsertCatalogObject: {exc}: {exc.details}"
                continue
            ids = {m.get("client_object_id"): m.get("object_id")
                   for m in body.get("id_mappings") or []}
            variation_id = ids.get(f"#variation-{temp}")
            if not variation_id:
                report.rejected[w.sku] = "Square did not answer the new variation's id"
                continue
            self.connector.mapping[w.sku] = str(variation_id)
            report.created[w.sku] = str(variation_id)
            report.wrote(w.sku, set(w.send))
        return report
