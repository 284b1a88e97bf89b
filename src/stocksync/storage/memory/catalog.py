"""MemoryCatalog: items (with a unique barcode index) and locations of one tenant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from stocksync.core.catalog import Item, Location
from stocksync.core.errors import InvalidInput
from stocksync.storage.memory.store import Bound


@dataclass(frozen=True, slots=True)
class PlacedLocation:
    location: Location
    created_at: datetime
    updated_at: datetime


class MemoryCatalog(Bound):
    def _items(self) -> list[Item]:
        return sorted((i for (t, _), i in self.tx.read("items").items()
                       if t == self.tenant_id), key=lambda i: i.sku)

    def item(self, sku: str) -> Item | None:
        found: Item | None = self.tx.read("items").get((self.tenant_id, sku))
        return found

    def items(self, *, after: str | None = None, limit: int = 100,
              include_deleted: bool = False, query: str | None = None) -> list[Item]:
        like = query.lower() if query else None
        found = [i for i in self._items()
                 if (not after or i.sku > after) and (include_deleted or i.deleted_at is None)
                 and (like is None or like in i.sku.lower() or like in (i.title or "").lower())]
        return found[:limit]

    def items_by_sku(self, skus: list[str]) -> list[Item]:
        return [i for sku in dict.fromkeys(skus) if (i := self.item(sku)) is not None]

    def item_deleted(self, sku: str) -> bool | None:
        found = self.item(sku)
        return None if found is None else found.deleted_at is not None

    def location_exists(self, code: str) -> bool:
        return (self.tenant_id, code) in self.tx.read("locations")

    def deleted_skus(self, skus: list[str]) -> set[str]:
        return {i.sku for i in self.items_by_sku(skus) if i.deleted_at is not None}

    def put_item(self, item: Item, now: datetime) -> tuple[Item, bool]:
        """Create or replace an item's content; returns (item, created)."""
        barcodes = self.tx.read("barcodes")
        for barcode in item.barcodes:
            owner = barcodes.get((self.tenant_id, barcode))
            if owner is not None and owner != item.sku:
                raise InvalidInput(f"barcode {barcode} already belongs to {owner}",
                                   field="barcodes", barcode=barcode, sku=owner)
        existing = self.item(item.sku)
        created_at = existing.created_at if existing else now
        deleted_at = existing.deleted_at if existing else None
        # The cost price comes from catalog imports only: a PUT of the item keeps it.
        self.tx.write("items")[(self.tenant_id, item.sku)] = replace(
            item, cost_price=existing.cost_price if existing else None,
            attributes=dict(item.attributes), created_at=created_at, updated_at=now,
            deleted_at=deleted_at)
        index = self.tx.write("barcodes")
        for key in [k for k, sku in index.items() if k[0] == self.tenant_id and sku == item.sku]:
            del index[key]
        for barcode in item.barcodes:
            index[(self.tenant_id, barcode)] = item.sku
        return replace(item, created_at=created_at, updated_at=now,
                       deleted_at=deleted_at), existing is None

    def set_deleted(self, sku: str, deleted_at: datetime | None, now: datetime) -> bool:
        """Soft delete (a time) or restore (None); False if it was already in that state."""
        found = self.item(sku)
        if found is None or (found.deleted_at is None) == (deleted_at is None):
            return False
        self.tx.write("items")[(self.tenant_id, sku)] = replace(
            found, deleted_at=deleted_at, updated_at=now)
        return True

    def location(self, code: str) -> Location | None:
        placed: PlacedLocation | None = self.tx.read("locations").get((self.tenant_id, code))
        return None if placed is None else placed.location

    def locations(self) -> list[Location]:
        return sorted((p.location for (t, _), p in self.tx.read("locations").items()
                       if t == self.tenant_id), key=lambda loc: loc.code)

    def put_location(self, loc: Location, now: datetime) -> bool:
        """Create or rename a location; returns True when created."""
        key = (self.tenant_id, loc.code)
        placed: PlacedLocation | None = self.tx.read("locations").get(key)
        self.tx.write("locations")[key] = PlacedLocation(
            loc, placed.created_at if placed else now, now)
        return placed is None
