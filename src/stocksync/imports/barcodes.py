"""EAN/UPC/GTIN barcodes: normalising and the GS1 check digit."""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)  # EAN-8, UPC-A, EAN-13, GTIN-14
MAX_LOST_ZEROS = 2


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (the digits before it): weights 3,1,3,...
    counted from the right. https://www.gs1.org/services/how-calculate-check-digit-manually"""
    digits = [ord(c) - 48 for c in reversed(body)]
    total = 3 * sum(digits[0::2]) + sum(digits[1::2])
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    return (code.isdigit() and len(code) in GTIN_LENGTHS
            and check_digit(code[:-1]) == int(code[-1]))


def normalise(raw: str) -> str | None:
    """The barcode as digits with a valid check digit, or None.

    Spreadsheets store barcodes as numbers and drop leading zeros (a UPC-A `036000291452`
    becomes `36000291452`), so a short code is padded back to the first GTIN length at
    which its check digit holds."""
    code = raw.strip().replace(" ", "").replace("-", "")
    if code.endswith(".0"):  # a number cell read as a float
        code = code[:-2]
    if not code.isdigit():
        return None
    if is_valid_gtin(code):
        return code
    for length in GTIN_LENGTHS:
        # at most two zeros lost: "123" is a typo, not the EAN-8 00000123
        if 0 < length - len(code) <= MAX_LOST_ZEROS and is_valid_gtin(code.zfill(length)):
            return code.zfill(length)
    return None


def lookup_forms(code: str) -> list[str]:
    """The spellings one GTIN may be stored under (with or without leading zeros)."""
    bare = code.lstrip("0")
    forms = {code, *(bare.zfill(n) for n in GTIN_LENGTHS if len(bare) <= n)}
    return sorted(f for f in forms if is_valid_gtin(f))
