"""Catalog cases: items with their barcodes, soft deletion, listing; locations."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocksync.core.catalog import Image, Item, Location, LocationKind
from stocksync.core.errors import InvalidInput
from tests.storage_contract.base import StorageContract


class CatalogCases(StorageContract):
    def put(self, item: Item) -> tuple[Item, bool]:
        with self.uow() as uow:
            done = uow.catalog.put_item(item, self.clock())
            uow.commit()
        return done

    def test_an_item_is_created_then_replaced_with_its_content(self) -> None:
        item = Item("TEE-1", title="Tee", brand="Northwind", attributes={"fit": "slim"},
                    barcodes=("4006381333931",), images=(Image("https://x/1.jpg", "front"),),
                    price=Decimal("24.00"), currency="USD")
        stored, created = self.put(item)
        assert created and stored.created_at == stored.updated_at == self.clock()
        self.clock.tick(60)
        again, created = self.put(Item("TEE-1", title="Tee v2", price=Decimal("25.50")))
        assert not created and again.created_at != again.updated_at == self.clock()
        with self.uow(write=False) as uow:
            found = uow.catalog.item("TEE-1")
        assert found is not None
        assert (found.title, found.price, found.barcodes, found.brand) == \
            ("Tee v2", Decimal("25.50"), (), None)
        first = Item("TEE-1", title="Tee", brand="Northwind", attributes={"fit": "slim"},
                     barcodes=("4006381333931",), images=(Image("https://x/1.jpg", "front"),),
                     price=Decimal("24.00"), currency="USD")
        self.put(first)
        with self.uow(write=False) as uow:
            found = uow.catalog.item("TEE-1")
        assert found is not None and (found.attributes, found.images, found.barcodes) == \
            ({"fit": "slim"}, first.images, first.barcodes)

    def test_a_barcode_belongs_to_one_item(self) -> None:
        self.put(Item("A", barcodes=("111",)))
        with pytest.raises(InvalidInput):
            self.put(Item("B", barcodes=("111",)))
        self.put(Item("A", barcodes=("222",)))  # A lets go of 111
        self.put(Item("B", barcodes=("111",)))

    def test_soft_delete_and_restore_change_state_once(self) -> None:
        self.put(Item("A"))
        with self.uow() as uow:
            assert uow.catalog.item_deleted("A") is False
            assert uow.catalog.item_deleted("NOPE") is None
            assert uow.catalog.set_deleted("A", self.clock(), self.clock())
            assert not uow.catalog.set_deleted("A", self.clock(), self.clock())
            assert uow.catalog.item_deleted("A") is True
            assert uow.catalog.deleted_skus(["A", "NOPE"]) == {"A"}
            assert not uow.catalog.set_deleted("NOPE", self.clock(), self.clock())
            uow.commit()
        with self.uow() as uow:
            assert uow.catalog.set_deleted("A", None, self.clock())
            assert not uow.catalog.set_deleted("A", None, self.clock())
            uow.commit()

    def test_items_list_by_sku_after_a_cursor_with_a_search(self) -> None:
        for sku, title in [("C-1", "Hoodie"), ("A-1", "Tee"), ("B-1", "Dress")]:
            self.put(Item(sku, title=title))
        with self.uow() as uow:
            uow.catalog.set_deleted("B-1", self.clock(), self.clock())
            uow.commit()
        with self.uow(write=False) as uow:
            c = uow.catalog
            assert [i.sku for i in c.items()] == ["A-1", "C-1"]
            assert [i.sku for i in c.items(include_deleted=True)] == ["A-1", "B-1", "C-1"]
            assert [i.sku for i in c.items(after="A-1", limit=1)] == ["C-1"]
            assert [i.sku for i in c.items(query="HOOD")] == ["C-1"]
            assert [i.sku for i in c.items(query="a-")] == ["A-1"]
            assert sorted(i.sku for i in c.items_by_sku(["B-1", "A-1", "Z"])) == ["A-1", "B-1"]
        with self.uow(self.new_tenant(), write=False) as uow:
            assert uow.catalog.items() == []

    def test_locations_are_created_renamed_and_listed(self) -> None:
        with self.uow() as uow:
            assert uow.catalog.put_location(Location("WH", "Warehouse"), self.clock())
            assert uow.catalog.put_location(Location("NYC", "NY", LocationKind.STORE),
                                            self.clock())
            assert not uow.catalog.put_location(Location("WH", "Main warehouse"),
                                                self.clock())
            uow.commit()
        with self.uow(write=False) as uow:
            assert uow.catalog.location_exists("WH")
            assert not uow.catalog.location_exists("LA")
            assert uow.catalog.location("WH") == Location("WH", "Main warehouse")
            assert uow.catalog.location("LA") is None
            assert [loc.code for loc in uow.catalog.locations()] == ["NYC", "WH"]
