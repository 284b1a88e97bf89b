"""One file row as typed values: the mapping's columns read into a ParsedRow, each bad cell
reported with its row number and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from stocksync.core.catalog import Image
from stocksync.imports import values
from stocksync.imports.barcodes import normalise
from stocksync.imports.mapping import PRICE_FIELDS, TEXT_FIELDS, Mapping, QuantityMode, header_key

# Cells that describe the product rather than the variant: Shopify leaves them blank on the
# second and later rows of one Handle, so they are carried from the product's first row.
PRODUCT_FIELDS = ("title", "description", "brand", "gender", "material", "garment_type")
OPTION_FIELDS = {"size": "size", "colour": "colour", "color": "colour"}
PLACEHOLDER_OPTIONS = {"title"}  # Shopify's "Title / Default Title" for a single variant
# The widths of the items table's columns (storage/tables.py): a longer cell is a row error
# here rather than a database error in the middle of an apply.
TEXT_LIMITS = {"title": 500, "brand": 200, "gender": 50, "material": 200,
               "garment_type": 200, "size": 50, "colour": 100, "currency": 3}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.reason}"


@dataclass
class ParsedRow:
    number: int
    sku: str | None = None
    barcode: str | None = None
    group: str | None = None
    text: dict[str, str] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    images: tuple[Image, ...] | None = None
    quantities: dict[str, int] = field(default_factory=dict)  # location -> count or delta
    errors: list[RowError] = field(default_factory=list)


class RowReader:
    """Reads rows of one file under one mapping; remembers the current product group."""

    def __init__(self, mapping: Mapping, headers: list[str]) -> None:
        self.mapping = mapping
        index = {header_key(h): i for i, h in enumerate(headers)}
        self.headers = headers
        self.fields = {f: index[header_key(c)] for f, c in mapping.columns.items()
                       if header_key(c) in index}
        self.quantities = {loc: index[header_key(c)] for loc, c in mapping.quantities.items()}
        self.attributes = {n: index[header_key(c)] for n, c in mapping.attributes.items()}
        self.options = [(index[header_key(n)], index[header_key(v)])
                        for n, v in mapping.option_pairs]
        self._group: str | None = None
        self._inherited: dict[int, str] = {}  # column position -> product-level cell
        self._cells: list[str] = []

    def read(self, number: int, cells: list[str]) -> ParsedRow:
        cells = self._cells = self._inherit(cells)
        row = ParsedRow(number)
        for name, pos in self.fields.items():
            self._read_field(row, name, self._cell(cells, pos))
        for name, pos in self.attributes.items():
            if value := values.text(self._cell(cells, pos)):
                row.attributes[name] = value
        for name_pos, value_pos in self.options:
            self._read_option(row, self._cell(cells, name_pos), self._cell(cells, value_pos))
        if "sale_price" in row.prices and "price" in row.prices:
            # WooCommerce: a sale price is what the customer pays; the regular price becomes
            # the compare-at ("was") price.
            row.prices["compare_at_price"] = row.prices.pop("price")
            row.prices["price"] = row.prices.pop("sale_price")
        else:
            row.prices.pop("sale_price", None)
        signed = self.mapping.quantity_mode is QuantityMode.DELTA
        for location, pos in self.quantities.items():
            try:
                units = values.quantity(self._cell(cells, pos), signed=signed)
            except values.CellError as exc:
                row.errors.append(RowError(number, self.headers[pos], str(exc)))
                continue
            if units is not None:
                row.quantities[location] = units
        return row

    def error_columns(self) -> dict[str, str]:
        """Headers of the SKU, barcode and quantity columns, for the planner's messages."""
        return {"sku": self.column("sku"), "barcode": self.column("barcode"),
                **{loc: self.headers[pos] for loc, pos in self.quantities.items()}}

    def column(self, name: str) -> str:
        """The header of a field's column (for error messages)."""
        pos = self.fields.get(name)
        return self.headers[pos] if pos is not None else name

    def _read_field(self, row: ParsedRow, name: str, cell: str) -> None:
        try:
            if name in PRICE_FIELDS:
                if (amount := values.price(cell)) is not None:
                    row.prices[name] = amount
                return
        except values.CellError as exc:
            row.errors.append(RowError(row.number, self.column(name), str(exc)))
            return
        value = values.text(cell)
        if value is None:
            return
        if name == "sku":
            row.sku = value
        elif name == "barcode":
            row.barcode = normalise(value)
            if row.barcode is None:
                row.errors.append(RowError(row.number, self.column(name),
                                           f"{value!r} is not an EAN/UPC/GTIN (wrong length "
                                           "or check digit)"))
        elif name == "group":
            row.group = value
        elif name == "images":
            alt = None
            if (pos := self.fields.get("image_alt")) is not None:
                alt = values.text(self._cell_of(row, pos))
            urls = [u.strip() for u in value.split(self.mapping.image_separator) if u.strip()]
            row.images = tuple(Image(u, alt if i == 0 else None) for i, u in enumerate(urls))
        elif name in TEXT_FIELDS:
            _set_text(row, name, value, self.column(name))

    def _read_option(self, row: ParsedRow, name: str, value: str) -> None:
        option, chosen = values.text(name), values.text(value)
        if option is None or chosen is None or option.lower() in PLACEHOLDER_OPTIONS:
            return
        target = OPTION_FIELDS.get(option.lower())
        if target is not None and target not in row.text:
            _set_text(row, target, chosen, name)
        else:
            row.attributes[option] = chosen

    def _inherit(self, cells: list[str]) -> list[str]:
        pos = self.fields.get("group")
        if pos is None:
            return cells
        group = self._cell(cells, pos).strip()
        carried = [self.fields[f] for f in PRODUCT_FIELDS if f in self.fields]
        carried += [n for n, _ in self.options]
        if group != self._group:
            self._group, self._inherited = group, {}
        filled = list(cells)
        for p in carried:
            if self._cell(cells, p).strip():
                self._inherited.setdefault(p, cells[p])
            elif p in self._inherited:
                filled += [""] * (p + 1 - len(filled))
                filled[p] = self._inherited[p]
        return filled

    def _cell_of(self, row: ParsedRow, pos: int) -> str:
        return self._cell(self._cells, pos)

    @staticmethod
    def _cell(cells: list[str], pos: int) -> str:
        return cells[pos] if pos < len(cells) else ""


def _set_text(row: ParsedRow, name: str, value: str, column: str) -> None:
    limit = TEXT_LIMITS.get(name)
    if limit is not None and len(value) > limit:
        row.errors.append(RowError(row.number, column, f"longer than {limit} characters"))
    else:
        row.text[name] = value
