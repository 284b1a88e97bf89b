"""Demo data: a fashion shop with two locations and ~30 items in stock.

The demo tenant's API key is kept in a file next to the database (mode 0600), so each run
shows the same key instead of minting a new one; a key in that file that no longer
authenticates (revoked, or another database) is replaced.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import make_url

from stocksync.app import handlers as h
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Image, Item, Location, LocationKind

DEMO_TENANT = "demo"
KEY_LABEL = "demo"
KEY_FILE_SUFFIX = ".demo-key"
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
    name: str = DEMO_TENANT
    key_reused: bool = False  # the key came from the key file, not minted now


def key_file_for(database_url: str) -> Path:
    """Beside a SQLite file (stocksync.db -> stocksync.demo-key); else in the working
    directory (stocksync.demo-key)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_suffix(KEY_FILE_SUFFIX)
    return Path("stocksync" + KEY_FILE_SUFFIX)


def _read_key(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _write_key(path: Path | None, api_key: str) -> None:
    if path is None:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # also when the file existed with wider rights
        out.write(api_key + "\n")


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


def seed_demo(svc: Stocksync, key_file: Path | None = None) -> DemoTenant:
    """Create the demo tenant (once) with its locations, items and stock. Its key is the
    one in `key_file` while that still authenticates; else a new one, written there."""
    now = svc.clock()
    found, tenant = svc.tenants.resolve_or_create(DEMO_TENANT, now, create=True)
    if found is not None:
        kept = _read_key(key_file)
        if kept is not None and svc.tenants.tenant_for_key(kept) == found.id:
            return DemoTenant(found.id, kept, len(demo_items()), key_reused=True)
        # keys are stored hashed: a lost one cannot be shown again, so make another
        api_key, _ = svc.tenants.create_key(found.id, now, KEY_LABEL)
        _write_key(key_file, api_key)
        return DemoTenant(found.id, api_key, len(demo_items()))
    assert tenant is not None
    _write_key(key_file, tenant.api_key)
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
