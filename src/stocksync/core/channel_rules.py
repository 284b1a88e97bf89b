"""What quantity a channel should show for a SKU: the channel's rules over current stock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase


class ExternalChanges(StrEnum):
    ACCEPT = "accept"  # a change made inside the channel is recorded as an adjustment
    OVERWRITE = "overwrite"  # the channel is put back to stocksync's value


@dataclass(frozen=True, slots=True)
class ChannelRules:
    locations: tuple[str, ...]  # the locations whose stock this channel sells
    safety_buffer: int = 0  # units held back from the channel
    allocation_percent: int = 100  # share of what is left, rounded down
    max_quantity: int | None = None  # never list more than this
    include: tuple[str, ...] = ()  # SKU glob patterns; empty means all
    exclude: tuple[str, ...] = ()
    external_changes: ExternalChanges = ExternalChanges.OVERWRITE


@dataclass(frozen=True, slots=True)
class SkuState:
    """The current truth for one SKU: available per location, and whether it is deleted."""

    sku: str
    available: Mapping[str, int] = field(default_factory=dict)
    deleted: bool = False


def sku_included(rules: ChannelRules, sku: str) -> bool:
    if rules.include and not any(fnmatchcase(sku, p) for p in rules.include):
        return False
    return not any(fnmatchcase(sku, p) for p in rules.exclude)


def channel_quantity(rules: ChannelRules, state: SkuState) -> int:
    """Never negative, never above the cap, zero for deleted or filtered-out SKUs.

    A location whose available is negative (a count below what is reserved) contributes
    zero rather than eating into other locations' stock."""
    if state.deleted or not sku_included(rules, state.sku):
        return 0
    pooled = sum(max(state.available.get(loc, 0), 0) for loc in rules.locations)
    after_buffer = max(pooled - rules.safety_buffer, 0)
    allocated = after_buffer * rules.allocation_percent // 100
    if rules.max_quantity is not None:
        allocated = min(allocated, rules.max_quantity)
    return allocated


def quantities(rules: ChannelRules, states: Sequence[SkuState]) -> dict[str, int]:
    return {s.sku: channel_quantity(rules, s) for s in states}


# ---- location mapping: one channel, several store locations ------------------------------
# `location_map.<store location id>` settings map a store location to a group of stocksync
# locations (comma-separated codes). Such a channel keeps one target per SKU and store
# location, keyed `SKU@<store location id>` ('@' is never part of a SKU, see core/skus.py);
# a channel without them keeps one target per SKU, keyed by the SKU, exactly as before.
LOCATION_MAP_PREFIX = "location_map."
LEG_SEPARATOR = "@"


def location_legs(settings: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Store location id -> the stocksync locations whose stock it sells (in order)."""
    legs: dict[str, tuple[str, ...]] = {}
    for key, value in sorted(settings.items()):
        if key.startswith(LOCATION_MAP_PREFIX) and value:
            codes = tuple(c.strip() for c in value.split(",") if c.strip())
            if codes:
                legs[key[len(LOCATION_MAP_PREFIX):]] = codes
    return legs


def leg_key(sku: str, leg: str) -> str:
    return f"{sku}{LEG_SEPARATOR}{leg}"


def split_key(key: str) -> tuple[str, str | None]:
    """A target's key -> (SKU, store location id or None for a single-location channel)."""
    sku, sep, leg = key.partition(LEG_SEPARATOR)
    return (sku, leg) if sep else (key, None)


def leg_of_location(legs: Mapping[str, Sequence[str]], location: str) -> str | None:
    """The store location whose group holds stocksync `location` (groups are disjoint)."""
    return next((leg for leg, codes in legs.items() if location in codes), None)


def leg_quantities(rules: ChannelRules, legs: Mapping[str, tuple[str, ...]],
                   state: SkuState) -> dict[str, int]:
    """Per store location: the channel's rules over its group's stock only (the buffer,
    share and cap apply to each store location)."""
    return {leg_key(state.sku, leg): channel_quantity(replace(rules, locations=codes), state)
            for leg, codes in legs.items()}


def check_location_map(legs: Mapping[str, Sequence[str]]) -> str | None:
    """Why a location map cannot be used (None: it can): each stocksync location may feed
    one store location only (a unit must not be offered twice)."""
    seen: dict[str, str] = {}
    for leg, codes in legs.items():
        for code in codes:
            if code in seen:
                return f"{code} is mapped to both store locations {seen[code]} and {leg}"
            seen[code] = leg
    return None
