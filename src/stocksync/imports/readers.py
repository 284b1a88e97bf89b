"""Streaming readers: a CSV or XLSX file as a header row and numbered rows of text cells.

Neither reader holds the file in memory: CSV is decoded as it is read, XLSX is opened with
openpyxl's read-only mode, which parses the sheet XML row by row
(https://openpyxl.readthedocs.io/en/stable/optimized.html).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"


class UnreadableFile(ValueError):
    """The file cannot be read as CSV or XLSX; the message says why."""


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as a spreadsheet shows it, cells)
    format: str  # "csv" | "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def is_xlsx(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == XLSX_MAGIC


@contextmanager
def open_table(path: Path, *, sheet: str | None = None, encoding: str | None = None,
               delimiter: str | None = None) -> Iterator[Table]:
    """Open `path` (XLSX by its content, else CSV) for one pass over its rows."""
    if is_xlsx(path):
        with _xlsx(path, sheet) as table:
            yield table
    else:
        with _csv(path, encoding, delimiter) as table:
            yield table


def estimate_rows(path: Path, sheet: str | None = None) -> int | None:
    """About how many data rows the file has, for a progress bar (None: unknown)."""
    if is_xlsx(path):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            ws = book[sheet] if sheet in book.sheetnames else book.worksheets[0]
            return max((ws.max_row or 1) - 1, 0) if ws.max_row else None
        finally:
            book.close()
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


# ---- CSV ---------------------------------------------------------------------------------

def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark) when every byte decodes as UTF-8, else
    Latin-1, which decodes any byte (the usual encoding of older ERP and Excel exports)."""
    with path.open("rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or too little text: count the header line instead
        header = sample.splitlines()[0] if sample else ""
        return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) \
            else ","


@contextmanager
def _csv(path: Path, encoding: str | None, delimiter: str | None) -> Iterator[Table]:
    if encoding is None:
        encoding = detect_encoding(path)
    elif encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a declared UTF-8 file may still start with a BOM
    try:
        stream: IO[str] = path.open(encoding=encoding, newline="")
    except LookupError as exc:
        raise UnreadableFile(f"unknown encoding {encoding!r}") from exc
    with stream:
        try:
            sample = stream.read(SAMPLE_BYTES)
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"the file is not {_named(encoding)}: {exc.reason} at byte "
                                 f"{exc.start}") from exc
        stream.seek(0)
        delimiter = delimiter or detect_delimiter(sample)
        reader = csv.reader(stream, delimiter=delimiter)
        headers = _headers(reader)
        yield Table(headers, _csv_rows(reader, encoding), "csv", encoding, delimiter)


def _named(encoding: str) -> str:
    return "UTF-8" if encoding.lower().startswith("utf-8") else encoding


def _csv_rows(reader: Any, encoding: str) -> Iterator[tuple[int, list[str]]]:
    number = 1
    try:
        for cells in reader:
            number += 1
            if any(c.strip() for c in cells):
                yield number, cells
    except UnicodeDecodeError as exc:
        # Text is decoded ahead of the row being parsed: the bad bytes are past this row.
        raise UnreadableFile(f"the file is not {_named(encoding)}: bytes after row {number} "
                             "cannot be decoded (declare its encoding)") from exc
    except csv.Error as exc:
        raise UnreadableFile(f"row {number + 1}: {exc}") from exc


def _headers(rows: Iterator[list[str]]) -> list[str]:
    for cells in rows:
        if any(c.strip() for c in cells):
            return [c.strip() or f"column {i}" for i, c in enumerate(cells, start=1)]
    raise UnreadableFile("the file has no header row")


# ---- XLSX --------------------------------------------------------------------------------

@contextmanager
def _xlsx(path: Path, sheet: str | None) -> Iterator[Table]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise UnreadableFile(f"not a readable XLSX workbook: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise UnreadableFile(f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        rows = (_cells(r) for r in ws.iter_rows(values_only=True))
        numbered = enumerate(rows, start=1)
        headers = None
        for _, cells in numbered:
            if any(c.strip() for c in cells):
                headers = [c.strip() or f"column {i}" for i, c in enumerate(cells, start=1)]
                break
        if headers is None:
            raise UnreadableFile("the sheet has no header row")
        body = ((n, c) for n, c in numbered if any(x.strip() for x in c))
        yield Table(headers, body, "xlsx", sheet=ws.title)
    finally:
        book.close()


def _cells(values: tuple[Any, ...]) -> list[str]:
    return [_text(v) for v in values]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel keeps every number as a float: 12.0 is the integer 12, 19.99 stays 19.99.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
