"""Identifier rules for SKUs and location codes (SPEC §1)."""

from __future__ import annotations

import re

SKU_PATTERN = r"^[A-Za-z0-9._\-/]{1,64}$"
LOCATION_PATTERN = r"^[A-Za-z0-9_\-]{1,32}$"
_SKU = re.compile(SKU_PATTERN)


def is_valid_sku(sku: str) -> bool:
    return bool(_SKU.match(sku))
