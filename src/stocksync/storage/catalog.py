"""SqlCatalog: items (with a barcode index) and locations of one tenant."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update

from stocksync.core.catalog import Image, Item, Location, LocationKind
from stocksync.core.errors import InvalidInput
from stocksync.storage.tables import item_barcodes, items, locations

_CONTENT = ("title", "description", "brand", "gender", "material", "garment_type", "size",
            "colour", "price", "compare_at_price", "cost_price", "currency")


def _item(row: object) -> Item:
    r = row._mapping  # type: ignore[attr-defined]
    return Item(
        sku=r["sku"], **{k: r[k] for k in _CONTENT},
        attributes=dict(r["attributes"] or {}), barcodes=tuple(r["barcodes"] or ()),
        images=tuple(Image(**i) for i in r["images"] or ()),
        deleted_at=r["deleted_at"], created_at=r["created_at"], updated_at=r["updated_at"],
    )


class SqlCatalog:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    # ---- items --------------------------------------------------------------------------

    def item(self, sku: str) -> Item | None:
        row = self.conn.execute(select(items).where(
            items.c.tenant_id == self.tenant_id, items.c.sku == sku)).first()
        return _item(row) if row else None

    def items(self, *, after: str | None = None, limit: int = 100,
              include_deleted: bool = False, query: str | None = None) -> list[Item]:
        stmt = select(items).where(items.c.tenant_id == self.tenant_id)
        if after:
            stmt = stmt.where(items.c.sku > after)
        if not include_deleted:
            stmt = stmt.where(items.c.deleted_at.is_(None))
        if query:
            like = f"%{query.lower()}%"
            stmt = stmt.where(func.lower(items.c.sku).like(like)
                              | func.lower(func.coalesce(items.c.title, "")).like(like))
        return [_item(r) for r in self.conn.execute(stmt.order_by(items.c.sku).limit(limit))]

    def items_by_sku(self, skus: list[str]) -> list[Item]:
        """The items among `skus` (deleted ones too), in one query."""
        return [_item(r) for r in self.conn.execute(select(items).where(
            items.c.tenant_id == self.tenant_id, items.c.sku.in_(skus)))]

    def item_deleted(self, sku: str) -> bool | None:
        """None if there is no such item, else whether it is deleted (the hot-path check)."""
        row = self.conn.execute(_item_state(), {"t": self.tenant_id, "sku": sku}).first()
        return None if row is None else row[0] is not None

    def location_exists(self, code: str) -> bool:
        return self.conn.execute(_location_exists(), {"t": self.tenant_id,
                                                      "code": code}).first() is not None

    def deleted_skus(self, skus: list[str]) -> set[str]:
        return set(self.conn.execute(select(items.c.sku).where(
            items.c.tenant_id == self.tenant_id, items.c.sku.in_(skus),
            items.c.deleted_at.isnot(None))).scalars())

    def sku_for_barcode(self, barcode: str) -> str | None:
        return self.conn.execute(select(item_barcodes.c.sku).where(
            item_barcodes.c.tenant_id == self.tenant_id,
            item_barcodes.c.barcode == barcode)).scalar()

    def put_item(self, item: Item, now: datetime) -> tuple[Item, bool]:
        """Create or replace an item's content; returns (item, created)."""
        for barcode in item.barcodes:
            owner = self.sku_for_barcode(barcode)
            if owner is not None and owner != item.sku:
                raise InvalidInput(f"barcode {barcode} already belongs to {owner}",
                                   field="barcodes", barcode=barcode, sku=owner)
        existing = self.item(item.sku)
        # The cost price comes from catalog imports only (the API does not carry it): a PUT
        # of the item keeps it.
        values = {k: getattr(item, k) for k in _CONTENT if k != "cost_price"}
        values.update(attributes=dict(item.attributes), barcodes=list(item.barcodes),
                      images=[asdict(i) for i in item.images], updated_at=now)
        if existing is None:
            self.conn.execute(insert(items).values(
                tenant_id=self.tenant_id, sku=item.sku, created_at=now, **values))
        else:
            self.conn.execute(update(items).where(
                items.c.tenant_id == self.tenant_id, items.c.sku == item.sku).values(**values))
        self.conn.execute(delete(item_barcodes).where(
            item_barcodes.c.tenant_id == self.tenant_id, item_barcodes.c.sku == item.sku))
        if item.barcodes:
            self.conn.execute(insert(item_barcodes), [
                {"tenant_id": self.tenant_id, "barcode": b, "sku": item.sku}
                for b in dict.fromkeys(item.barcodes)
            ])
        created_at = existing.created_at if existing else now
        deleted_at = existing.deleted_at if existing else None
        return replace(item, created_at=created_at, updated_at=now,
                       deleted_at=deleted_at), existing is None

    def set_deleted(self, sku: str, deleted_at: datetime | None, now: datetime) -> bool:
        """Soft delete (a time) or restore (None); False if it was already in that state."""
        currently = items.c.deleted_at.is_(None) if deleted_at else items.c.deleted_at.isnot(None)
        result = self.conn.execute(
            update(items).where(items.c.tenant_id == self.tenant_id, items.c.sku == sku,
                                currently)
            .values(deleted_at=deleted_at, updated_at=now))
        return result.rowcount == 1

    # ---- locations ----------------------------------------------------------------------

    def location(self, code: str) -> Location | None:
        row = self.conn.execute(select(locations).where(
            locations.c.tenant_id == self.tenant_id, locations.c.code == code)).first()
        return Location(row.code, row.name, LocationKind(row.kind)) if row else None

    def locations(self) -> list[Location]:
        rows = self.conn.execute(select(locations).where(
            locations.c.tenant_id == self.tenant_id).order_by(locations.c.code))
        return [Location(r.code, r.name, LocationKind(r.kind)) for r in rows]

    def put_location(self, loc: Location, now: datetime) -> bool:
        """Create or rename a location; returns True when created."""
        values = {"name": loc.name, "kind": loc.kind.value, "updated_at": now}
        changed = self.conn.execute(update(locations).where(
            locations.c.tenant_id == self.tenant_id, locations.c.code == loc.code)
            .values(**values)).rowcount
        if changed:
            return False
        self.conn.execute(insert(locations).values(
            tenant_id=self.tenant_id, code=loc.code, created_at=now, **values))
        return True


@cache
def _item_state() -> Select[Any]:
    return select(items.c.deleted_at).where(items.c.tenant_id == bindparam("t"),
                                            items.c.sku == bindparam("sku"))


@cache
def _location_exists() -> Select[Any]:
    return select(locations.c.code).where(locations.c.tenant_id == bindparam("t"),
                                          locations.c.code == bindparam("code"))
