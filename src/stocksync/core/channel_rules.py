"""What quantity a channel should show for a SKU: the channel's rules over current stock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
