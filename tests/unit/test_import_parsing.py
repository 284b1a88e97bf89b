"""Cells, barcodes, header detection and row reading: pure, no files."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocksync.core.errors import InvalidInput
from stocksync.imports.barcodes import check_digit, is_valid_gtin, lookup_forms, normalise
from stocksync.imports.detect import detect
from stocksync.imports.mapping import Mapping, QuantityMode, mapping_from_dict
from stocksync.imports.rows import RowReader
from stocksync.imports.values import CellError, price, quantity


def test_the_gs1_check_digit_is_verified_for_ean_upc_and_gtin() -> None:
    assert check_digit("400638133393") == 1
    assert is_valid_gtin("4006381333931")  # EAN-13
    assert is_valid_gtin("036000291452")  # UPC-A
    assert is_valid_gtin("96385074")  # EAN-8
    assert not is_valid_gtin("4006381333932")
    assert normalise("4006381333932") is None


def test_a_barcode_that_lost_its_leading_zero_in_a_spreadsheet_is_restored() -> None:
    assert normalise("36000291452") == "036000291452"
    assert normalise("4006381333931.0") == "4006381333931"
    assert "0036000291452" in lookup_forms("036000291452")


@pytest.mark.parametrize(("cell", "amount"), [("12.50", "12.5"), ("12,50", "12.5"),
                                              ("1.234,50", "1234.5"), ("1,234.50", "1234.5"),
                                              ("", None), ("0", "0")])
def test_prices_are_read_with_either_decimal_separator(cell: str, amount: str | None) -> None:
    assert price(cell) == (Decimal(amount) if amount is not None else None)


def test_bad_cells_say_what_is_wrong() -> None:
    with pytest.raises(CellError, match="not a price"):
        price("abc")
    with pytest.raises(CellError, match="0 or more"):
        price("-1")
    with pytest.raises(CellError, match="cannot be negative"):
        quantity("-3", signed=False)
    with pytest.raises(CellError, match="whole number"):
        quantity("2.5", signed=False)
    assert quantity("-3", signed=True) == -3
    assert quantity("12.0", signed=False) == 12


SHOPIFY_HEADERS = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Option1 Name",
                   "Option1 Value", "Option2 Name", "Option2 Value", "Variant SKU",
                   "Variant Inventory Qty", "Variant Price", "Variant Compare At Price",
                   "Variant Barcode", "Image Src", "Image Alt Text", "Cost per item"]
WOO_HEADERS = ["ID", "Type", "SKU", "Name", "Description", "Stock", "Sale price",
               "Regular price", "Images", "Attribute 1 name", "Attribute 1 value(s)",
               "GTIN, UPC, EAN, or ISBN"]


def test_shopify_export_headers_are_recognised() -> None:
    m = detect(SHOPIFY_HEADERS, ["WH"])
    assert m.preset == "shopify"
    assert m.columns["sku"] == "Variant SKU" and m.columns["group"] == "Handle"
    assert m.columns["cost_price"] == "Cost per item"
    assert m.columns["compare_at_price"] == "Variant Compare At Price"
    assert m.quantities == {"WH": "Variant Inventory Qty"}  # the only location
    assert m.option_pairs == (("Option1 Name", "Option1 Value"),
                              ("Option2 Name", "Option2 Value"))


def test_the_newer_shopify_export_headers_are_recognised_too() -> None:
    m = detect(["URL handle", "Title", "SKU", "Barcode", "Price", "Compare-at price",
                "Inventory quantity", "Product image URL"], ["WH"])
    assert m.preset == "shopify" and m.columns["group"] == "URL handle"
    assert m.columns["compare_at_price"] == "Compare-at price"
    assert m.columns["images"] == "Product image URL"
    assert m.quantities == {"WH": "Inventory quantity"}


def test_woocommerce_export_headers_are_recognised() -> None:
    m = detect(WOO_HEADERS, ["A", "B"], default_location="B")
    assert m.preset == "woocommerce"
    assert m.columns["barcode"] == "GTIN, UPC, EAN, or ISBN"
    assert m.columns["sale_price"] == "Sale price" and m.columns["title"] == "Name"
    assert m.quantities == {"B": "Stock"}


def test_a_quantity_column_without_a_location_needs_one_when_there_are_several() -> None:
    with pytest.raises(InvalidInput, match="names no location"):
        detect(WOO_HEADERS, ["A", "B"])


def test_warehouse_columns_are_matched_to_location_codes() -> None:
    m = detect(["Article", "EAN", "Stock WH_MAIN", "wh_east qty", "Cost"], ["WH_MAIN", "WH_EAST"])
    assert m.quantities == {"WH_MAIN": "Stock WH_MAIN", "WH_EAST": "wh_east qty"}
    assert m.columns == {"sku": "Article", "barcode": "EAN", "cost_price": "Cost"}


def test_a_mapping_file_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown field"):
        mapping_from_dict({"columns": {"skew": "SKU"}})
    m = mapping_from_dict({"columns": {"sku": "Art"}, "quantities": {"WH": "Qty"},
                           "quantity_mode": "delta"})
    assert m.quantity_mode is QuantityMode.DELTA


def test_shopify_variant_rows_inherit_the_product_cells_of_their_handle() -> None:
    reader = RowReader(detect(SHOPIFY_HEADERS, ["WH"]), SHOPIFY_HEADERS)
    first = reader.read(2, ["tee", "Tee", "<p>x</p>", "Acme", "Shirt", "Size", "S", "Color",
                            "Red", "TEE-S", "4", "10", "", "", "https://i/1.jpg", "front",
                            "3.5"])
    second = reader.read(3, ["tee", "", "", "", "", "", "M", "", "Blue", "TEE-M", "2", "10"])
    assert first.text["size"] == "S" and first.text["colour"] == "Red"
    assert first.images is not None and first.images[0].alt == "front"
    assert second.text["title"] == "Tee" and second.text["brand"] == "Acme"
    assert second.text["size"] == "M" and second.text["colour"] == "Blue"
    assert second.quantities == {"WH": 2} and second.prices == {"price": Decimal(10)}


def test_a_woocommerce_sale_price_is_the_price_and_the_regular_price_the_compare_at() -> None:
    reader = RowReader(detect(WOO_HEADERS, ["WH"]), WOO_HEADERS)
    row = reader.read(2, ["1", "simple", "CAP", "Cap", "", "3", "8.00", "10.00", "", "Color",
                          "Navy", "4006381333931"])
    assert row.prices == {"price": Decimal("8"), "compare_at_price": Decimal("10")}
    assert row.text["colour"] == "Navy" and row.barcode == "4006381333931"


def test_bad_cells_are_reported_with_their_row_and_column() -> None:
    mapping = Mapping(columns={"sku": "SKU", "price": "Price", "barcode": "EAN"},
                      quantities={"WH": "Qty"})
    reader = RowReader(mapping, ["SKU", "Price", "EAN", "Qty"])
    row = reader.read(7, ["A-1", "abc", "123", "-2"])
    assert [(e.row, e.column) for e in row.errors] == [(7, "Price"), (7, "EAN"), (7, "Qty")]


def test_a_cell_longer_than_its_column_is_a_row_error_not_a_database_error() -> None:
    reader = RowReader(Mapping(columns={"sku": "SKU", "title": "Name", "currency": "Cur"}),
                       ["SKU", "Name", "Cur"])
    row = reader.read(4, ["A-1", "x" * 501, "EURO"])
    assert [str(e) for e in row.errors] == [
        "row 4, column 'Name': longer than 500 characters",
        "row 4, column 'Cur': longer than 3 characters"]
