"""Real export files, written with csv and openpyxl, imported end to end (SQLite and
PostgreSQL): a Shopify export, a WooCommerce export, an ERP sheet with two warehouse columns
and barcodes only, a Latin-1 CSV with semicolons."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item, Location
from stocksync.imports.applier import ApplyReport, apply_job
from stocksync.imports.barcodes import check_digit
from stocksync.imports.mapping import load_mapping_file
from stocksync.imports.preview import ImportOptions, preview
from stocksync.imports.store import get_job
from stocksync.storage.sequencer import drain
from tests.conftest import Tenant, new_tenant


def ean13(body: str) -> str:
    return body + str(check_digit(body))


SHOPIFY_HEADERS = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags",
    "Published", "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value",
    "Variant SKU", "Variant Grams", "Variant Inventory Tracker", "Variant Inventory Qty",
    "Variant Inventory Policy", "Variant Price", "Variant Compare At Price",
    "Variant Barcode", "Image Src", "Image Position", "Image Alt Text",
    "Google Shopping / Gender", "Cost per item", "Status"]
TEE_S, TEE_M, CAP = ean13("400638133393"), ean13("500000000001"), ean13("500000000002")


def shopify_export(path: Path) -> Path:
    rows = [
        ["linen-tee", "Linen Tee", "<p>Breathable linen</p>", "Acme", "Apparel", "T-Shirts",
         "summer", "TRUE", "Size", "S", "Color", "Sand", "TEE-S", "200", "shopify", "12",
         "deny", "29.00", "35.00", TEE_S, "https://cdn.example/tee.jpg", "1", "Linen tee",
         "unisex", "11.20", "active"],
        ["linen-tee", "", "", "", "", "", "", "", "", "M", "", "Sand", "TEE-M", "210",
         "shopify", "7", "deny", "29.00", "35.00", TEE_M, "", "", "", "", "11.20", ""],
        ["linen-tee", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
         "", "", "https://cdn.example/tee-back.jpg", "2", "", "", "", ""],
        ["wool-cap", "Wool Cap", "", "Acme", "", "Hats", "", "TRUE", "Title",
         "Default Title", "", "", "CAP-1", "80", "shopify", "3", "deny", "15", "", CAP,
         "", "", "", "", "4", "active"],
    ]
    return _csv(path, SHOPIFY_HEADERS, rows)


def woocommerce_export(path: Path) -> Path:
    headers = ["ID", "Type", "SKU", "Name", "Published", "Is featured?",
               "Visibility in catalog", "Short description", "Description", "In stock?",
               "Stock", "Sale price", "Regular price", "Categories", "Images", "Parent",
               "Attribute 1 name", "Attribute 1 value(s)", "Attribute 1 visible",
               "GTIN, UPC, EAN, or ISBN", "Brands"]
    rows = [
        ["101", "simple", "MUG-1", "Enamel Mug", "1", "0", "visible", "A mug", "Tin mug",
         "1", "40", "8.50", "10.00", "Kitchen",
         "https://shop.example/mug.jpg, https://shop.example/mug2.jpg", "", "Color",
         "White", "1", ean13("590123412345"), "Camp Co"],
        ["102", "simple", "BOWL-1", "Enamel Bowl", "1", "0", "visible", "", "", "1", "0",
         "", "12.00", "Kitchen", "", "", "", "", "", "", "Camp Co"],
    ]
    return _csv(path, headers, rows)


def erp_sheet(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    ws = book.active
    ws.title = "Stock"
    ws.append(["EAN", "Description", "Stock WH_MAIN", "Stock WH_EAST", "Cost"])
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def latin1_semicolons(path: Path) -> Path:
    text = ("Artikel;Bezeichnung;Größe;Farbe;Preis;Bestand\n"
            "JACKE-1;Wolljacke Öko;M;Grün;89,90;4\n"
            "JACKE-2;Daunenjacke;L;Weiß;149,00;2\n")
    path.write_bytes(text.encode("latin-1"))
    return path


def _csv(path: Path, headers: list[str], rows: list[list[str]], **kw: Any) -> Path:
    with path.open("w", newline="", encoding=kw.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, **kw)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def tenant_with(svc: Stocksync, *codes: str) -> Tenant:
    tenant = new_tenant(svc)
    with svc.uow(tenant.id) as uow:
        for code in codes:
            uow.catalog.put_location(Location(code, code), svc.clock())
        uow.commit()
    return tenant


def run(svc: Stocksync, tenant: Tenant, path: Path,
        **options: Any) -> tuple[dict[str, Any], ApplyReport | None]:
    """Preview, then apply unless the preview rejected rows; returns (job, report)."""
    job_id = preview(svc, tenant.id, path, ImportOptions(**options))
    job = _job(svc, tenant, job_id)
    if job["summary"]["rows_rejected"] and not options.get("skip_bad_rows"):
        return job, None
    report = apply_job(svc, tenant.id, job_id, actor="test")
    drain(svc.engine)
    return _job(svc, tenant, job_id), report


def _job(svc: Stocksync, tenant: Tenant, job_id: str) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        job = get_job(conn, tenant.id, job_id)
    assert job is not None
    return job


def on_hand(svc: Stocksync, tenant: Tenant, sku: str) -> dict[str, int]:
    with svc.uow(tenant.id, write=False) as uow:
        return {lv.location: lv.on_hand for lv in uow.ledger.stored_levels([sku])}


def item(svc: Stocksync, tenant: Tenant, sku: str) -> Any:
    with svc.uow(tenant.id, write=False) as uow:
        return uow.catalog.item(sku)


def assert_verified(svc: Stocksync) -> None:
    drain(svc.engine)
    report = svc.verify()
    assert report.ok, [m.describe() for m in report.mismatches]


def test_a_shopify_product_export_creates_items_prices_barcodes_and_stock(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    job, report = run(svc, tenant, shopify_export(tmp_path / "products_export_1.csv"))
    assert report is not None and report.applied == 3
    assert job["mapping"]["preset"] == "shopify"
    assert job["summary"]["rows"]["skipped"] == 1  # the second image row of the tee
    tee = item(svc, tenant, "TEE-M")
    assert (tee.title, tee.brand, tee.size, tee.colour, tee.garment_type) == (
        "Linen Tee", "Acme", "M", "Sand", "T-Shirts")
    assert (tee.price, tee.compare_at_price, tee.cost_price) == (
        Decimal("29"), Decimal("35"), Decimal("11.2"))
    assert tee.barcodes == (TEE_M,)
    small = item(svc, tenant, "TEE-S")
    assert small.images[0].url == "https://cdn.example/tee.jpg"
    assert small.images[0].alt == "Linen tee" and small.gender == "unisex"
    assert item(svc, tenant, "CAP-1").size is None  # "Default Title" is no option
    assert on_hand(svc, tenant, "TEE-S") == {"WH": 12}
    assert on_hand(svc, tenant, "CAP-1") == {"WH": 3}
    assert_verified(svc)
    with svc.uow(tenant.id) as uow:  # PUT /v1/items does not carry a cost price: kept
        uow.catalog.put_item(Item("TEE-M", title="Linen Tee M"), svc.clock())
        uow.commit()
    assert item(svc, tenant, "TEE-M").cost_price == Decimal("11.2")


def test_a_woocommerce_export_maps_sale_price_gtin_and_attributes(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "STORE", "WH")
    job, report = run(svc, tenant, woocommerce_export(tmp_path / "wc-product-export.csv"),
                      location="STORE")
    assert report is not None and job["mapping"]["preset"] == "woocommerce"
    mug = item(svc, tenant, "MUG-1")
    assert (mug.price, mug.compare_at_price) == (Decimal("8.5"), Decimal("10"))
    assert mug.colour == "White" and mug.brand == "Camp Co"
    assert [i.url for i in mug.images] == ["https://shop.example/mug.jpg",
                                           "https://shop.example/mug2.jpg"]
    assert mug.barcodes == (ean13("590123412345"),)
    assert on_hand(svc, tenant, "MUG-1") == {"STORE": 40}
    assert on_hand(svc, tenant, "BOWL-1") == {}  # 0 on a new item: nothing to count
    assert item(svc, tenant, "BOWL-1").price == Decimal("12")


def test_an_erp_sheet_with_barcodes_only_sets_two_warehouses(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH_MAIN", "WH_EAST")
    run(svc, tenant, shopify_export(tmp_path / "shopify.csv"), location="WH_MAIN")
    sheet = erp_sheet(tmp_path / "erp.xlsx", [
        [int(TEE_S), "Linen tee S", 20, 5, 10.5],  # a number cell, as ERPs write them
        [TEE_M, "Linen tee M", 0, 9, 10.5],
    ])
    job, report = run(svc, tenant, sheet)
    assert job["format"] == "xlsx" and report is not None and report.applied == 2
    assert job["mapping"]["quantities"] == {"WH_MAIN": "Stock WH_MAIN",
                                            "WH_EAST": "Stock WH_EAST"}
    assert on_hand(svc, tenant, "TEE-S") == {"WH_MAIN": 20, "WH_EAST": 5}
    assert on_hand(svc, tenant, "TEE-M") == {"WH_MAIN": 0, "WH_EAST": 9}
    assert item(svc, tenant, "TEE-S").cost_price == Decimal("10.5")
    assert item(svc, tenant, "TEE-S").title == "Linen Tee"  # Description is not a title
    assert_verified(svc)


def test_a_latin1_csv_with_semicolons_and_a_yaml_mapping(svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "LAGER")
    mapping = tmp_path / "erp.yaml"
    mapping.write_text("columns:\n  sku: Artikel\n  title: Bezeichnung\n  size: Größe\n"
                       "  colour: Farbe\n  price: Preis\nquantities:\n  LAGER: Bestand\n",
                       encoding="utf-8")
    _, report = run(svc, tenant, latin1_semicolons(tmp_path / "bestand.csv"),
                      mapping=load_mapping_file(mapping), save_as="erp")
    assert report is not None and report.applied == 2
    jacket = item(svc, tenant, "JACKE-1")
    assert (jacket.title, jacket.colour, jacket.price) == ("Wolljacke Öko", "Grün",
                                                           Decimal("89.9"))
    assert on_hand(svc, tenant, "JACKE-2") == {"LAGER": 2}
    # the saved mapping is reused by name for the next file of the same layout
    (tmp_path / "next.csv").write_bytes("Artikel;Bezeichnung;Größe;Farbe;Preis;Bestand\n"
                                        "JACKE-1;Wolljacke Öko;M;Grün;79,90;6\n"
                                        .encode("latin-1"))
    _, again = run(svc, tenant, tmp_path / "next.csv", mapping_name="erp")
    assert again is not None and item(svc, tenant, "JACKE-1").price == Decimal("79.9")
    assert on_hand(svc, tenant, "JACKE-1") == {"LAGER": 6}
