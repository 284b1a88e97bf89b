"""Channel rules, property-tested: bounds, monotonicity, filters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stocksync.core.channel_rules import ChannelRules, SkuState, channel_quantity, sku_included

LOCS = ("WH", "NYC", "LA")
rules_st = st.builds(
    ChannelRules,
    locations=st.lists(st.sampled_from(LOCS), min_size=1, max_size=3, unique=True).map(tuple),
    safety_buffer=st.integers(0, 50),
    allocation_percent=st.integers(0, 100),
    max_quantity=st.none() | st.integers(0, 500),
)
state_st = st.builds(
    SkuState, sku=st.just("TEE-1"),
    available=st.fixed_dictionaries({loc: st.integers(-20, 1000) for loc in LOCS}),
    deleted=st.booleans(),
)


@given(rules_st, state_st)
def test_channel_quantity_is_within_bounds(rules: ChannelRules, state: SkuState) -> None:
    q = channel_quantity(rules, state)
    pooled = sum(max(state.available[loc], 0) for loc in rules.locations)
    assert 0 <= q <= pooled
    assert q <= max(pooled - rules.safety_buffer, 0)
    if rules.max_quantity is not None:
        assert q <= rules.max_quantity
    if state.deleted:
        assert q == 0


@given(rules_st, state_st, st.sampled_from(LOCS), st.integers(1, 100))
def test_more_stock_never_means_a_lower_channel_quantity(
        rules: ChannelRules, state: SkuState, loc: str, extra: int) -> None:
    more = SkuState(state.sku, {**state.available, loc: state.available[loc] + extra},
                    state.deleted)
    assert channel_quantity(rules, more) >= channel_quantity(rules, state)


@given(st.integers(0, 10_000), st.integers(0, 100))
def test_percentage_allocation_rounds_down(available: int, percent: int) -> None:
    rules = ChannelRules(locations=("WH",), allocation_percent=percent)
    assert channel_quantity(rules, SkuState("A", {"WH": available})) == available * percent // 100


def test_only_the_channel_locations_count() -> None:
    rules = ChannelRules(locations=("WH",))
    assert channel_quantity(rules, SkuState("A", {"WH": 3, "NYC": 100})) == 3


def test_include_and_exclude_patterns() -> None:
    rules = ChannelRules(locations=("WH",), include=("TEE-*", "HOOD-*"), exclude=("*-XL",))
    assert sku_included(rules, "TEE-BLK-M")
    assert not sku_included(rules, "TEE-BLK-XL")
    assert not sku_included(rules, "JEAN-1")
    assert channel_quantity(rules, SkuState("JEAN-1", {"WH": 9})) == 0
