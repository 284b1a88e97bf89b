"""Demo data: a fashion shop with two locations and ~30 items in stock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from stocksync.app import handlers as h
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Image, Item, Location, LocationKind
from stocksync.storage.ledger import WriteContext
from stocksync.storage.tenants import add_key, create_tenant, tenant_by_name

DEMO_TENANT = "demo"
LOCATIONS = [Location("WH_MAIN", "Main warehouse", LocationKind.WAREHOUSE),
             Location("NYC_01", "New York store", LocationKind.STORE)]
_PRODUCTS = [
    ("TEE", "Organic Cotton Crew T-Shirt", "Northwind", "Unisex", "Organic cotton", "T-shirt",
     Decimal("24.00")),
    ("HOOD", "Heavyweight Fleece Hoodie", "Northwind", "Men", "Cotton fleece", "Hoodie",
     Decimal("68.00")),
    ("DRS", "Linen Wrap Midi Dress", "Alder & Ash", "Women", "Linen", "Dress",
     Decimal("119.00")),
    ("JEAN", "Slim Selvedge Jeans", "Indigo Row", "Men", "Selvedge denim", "Jeans",
     Decimal("140.00")),
    ("KNIT", "Merino Rib Sweater", "Alder & Ash", "Women", "Merino wool", "Sweater",
     Decimal("95.00")),
]
_COLOURS = ["Black", "White"]
_SIZES = ["S", "M", "L"]


@dataclass(frozen=True, slots=True)
class DemoTenant:
    tenant_id: str
    api_key: str
    items: int


def demo_items() -> list[Item]:
    found = []
    for (code, title, brand, gender, material, garment, price), colour, size in (
            itertools.product(_PRODUCTS, _COLOURS, _SIZES)):
        sku = f"{code}-{colour[:3].upper()}-{size}"
        found.append(Item(
            sku=sku, title=f"{title} {colour} {size}", brand=brand, gender=gender,
            material=material, garment_type=garment, size=size, colour=colour, price=price,
            compare_at_price=price + Decimal("10.00") if code == "DRS" else None,
            currency="USD",
            images=(Image(f"https://example.com/img/{sku.lower()}.jpg",
                          f"{brand} {title} in {colour.lower()}"),),
        ))
    return found


def seed_demo(svc: Stocksync) -> DemoTenant:
    """Create the demo tenant (once) with its locations, items and stock."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        existing = tenant_by_name(conn, DEMO_TENANT)
        if existing is not None:  # keys are stored hashed: hand out a fresh one
            return DemoTenant(existing, add_key(conn, existing, now), len(demo_items()))
        tenant = create_tenant(conn, DEMO_TENANT, now)
    items = demo_items()
    with svc.uow(tenant.id) as uow:
        ctx = WriteContext(tenant_id=tenant.id, now=now, source="demo")
        for loc in LOCATIONS:
            uow.catalog.put_location(loc, now)
        for n, item in enumerate(items):
            uow.catalog.put_item(item, now)
            for loc, qty in zip(LOCATIONS, (20 + n % 7 * 5, 3 + n % 4), strict=True):
                h.record_movement(uow, ctx, h.Movement("receive", item.sku, loc.code, qty))
        uow.commit()
    return DemoTenant(tenant.id, tenant.api_key, len(items))
