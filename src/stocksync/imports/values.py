"""Reading one cell as a price, a quantity or text; a bad cell raises CellError."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from stocksync.core.ledger import MAX_QUANTITY

MAX_PRICE = Decimal("9999999999")  # Numeric(14, 4)
_SPACES = re.compile(r"[\s\u00a0]")


class CellError(ValueError):
    """A cell that cannot be read as its field's type; the message says why."""


def text(value: str) -> str | None:
    stripped = value.strip()
    return stripped or None


def price(value: str) -> Decimal | None:
    """A non-negative amount. Accepts `12.50`, `12,50` and `1.234,50` (European sheets)."""
    raw = _SPACES.sub("", value)
    if not raw:
        return None
    if "," in raw and "." in raw:  # the last separator is the decimal one
        raw = (raw.replace(".", "").replace(",", ".") if raw.rfind(",") > raw.rfind(".")
               else raw.replace(",", ""))
    elif "," in raw:
        raw = raw.replace(",", ".")
    try:
        amount = Decimal(raw)
    except InvalidOperation as exc:
        raise CellError(f"{value!r} is not a price") from exc
    if not amount.is_finite() or amount < 0:
        raise CellError(f"{value!r} is not a price (it must be 0 or more)")
    if amount > MAX_PRICE:
        raise CellError(f"{value!r} is too large for a price")
    return amount.quantize(Decimal("0.0001")).normalize() if amount else Decimal(0)


def quantity(value: str, *, signed: bool) -> int | None:
    """A whole number of units; a stock count (unsigned) is never negative."""
    raw = _SPACES.sub("", value)
    if not raw:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation as exc:
        raise CellError(f"{value!r} is not a whole number") from exc
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError(f"{value!r} is not a whole number")
    units = int(number)
    if units < 0 and not signed:
        raise CellError(f"{value!r}: a stock count cannot be negative")
    if abs(units) > MAX_QUANTITY:
        raise CellError(f"{value!r} is above the largest quantity ({MAX_QUANTITY})")
    return units
