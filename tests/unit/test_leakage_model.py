"""The leakage estimate, the derived oversell rate and the simulation, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from stocksync.leakage.estimate import SEED_EXAMPLE, LeakageInputError, estimate
from stocksync.leakage.orders import generated
from stocksync.leakage.oversell_model import SellThrough, oversell_rate
from stocksync.leakage.simulation import Polling, Propagation, Restock, Sale, simulate

CHANNELS = ["shopify", "amazon", "ebay"]


def test_the_seed_example_leaks_37440_a_day_with_its_breakdown() -> None:
    found = estimate(SEED_EXAMPLE)
    assert (found.windows_per_day, found.orders_per_window, found.orders_exposed) == (96, 5,
                                                                                      480)
    assert found.oversold_orders == Decimal("9.6")
    assert found.lost_revenue == Decimal(14_400)
    assert found.churned_lifetime_value == Decimal(23_040)
    assert found.per_day == Decimal(37_440)
    assert found.per_day > 37_000  # "more than ₹37,000 a day"


def test_a_bad_input_is_named() -> None:
    with pytest.raises(LeakageInputError, match="oversell_rate"):
        estimate(replace(SEED_EXAMPLE, oversell_rate=Decimal("1.5")))
    with pytest.raises(LeakageInputError, match="sync_interval_minutes"):
        estimate(replace(SEED_EXAMPLE, sync_interval_minutes=Decimal(0)))


def test_one_channel_cannot_oversell_itself() -> None:
    assert oversell_rate(SellThrough(900, 24, 12, 1)) == 0.0


def test_the_derived_rate_grows_with_the_interval_and_the_channels() -> None:
    rates = [oversell_rate(SellThrough(seconds, 24, 12, 3)) for seconds in (0.5, 60, 900)]
    assert rates[0] < rates[1] < rates[2]
    assert oversell_rate(SellThrough(900, 24, 12, 2)) < rates[2] < \
        oversell_rate(SellThrough(900, 24, 12, 5))
    assert rates[0] < 1e-5


def test_a_bad_model_input_is_refused() -> None:
    with pytest.raises(ValueError, match="channels"):
        oversell_rate(SellThrough(900, 24, 12, 0))


def _stream(seed: int = 3):  # type: ignore[no-untyped-def]
    return generated(skus=60, channels=CHANNELS, days=5, velocity_per_day=24, stock_depth=12,
                     restock_hours=12, seed=seed)


def test_longer_polling_intervals_oversell_more_and_stocksync_s_path_none() -> None:
    stream = _stream()
    runs = {m.name: simulate(m, stream.sales, stream.restocks, stream.stock, CHANNELS,
                             stream.horizon_seconds, seed=7)
            for m in (Polling(900), Polling(300), Polling(60),
                      Propagation(stream.propagation_seconds))}
    oversold = [r.oversold_units for r in runs.values()]
    assert oversold[0] > oversold[1] > oversold[2]
    assert oversold[3] == 0
    assert runs["polling every 15 min"].fresh_share == pytest.approx(30 / 900, rel=0.05)
    assert runs["stocksync (measured propagation)"].fresh_share > 0.99


def test_the_simulation_is_deterministic_for_a_seed() -> None:
    stream = _stream()
    first = simulate(Polling(900), stream.sales, stream.restocks, stream.stock, CHANNELS,
                     stream.horizon_seconds, seed=7)
    again = simulate(Polling(900), stream.sales, stream.restocks, stream.stock, CHANNELS,
                     stream.horizon_seconds, seed=7)
    assert first == again
    assert _stream(3).sales == _stream(3).sales


def test_two_channels_selling_the_last_unit_between_polls_oversell_one() -> None:
    sales = [Sale(10.0, "A", "shop"), Sale(20.0, "A", "market")]
    polled = simulate(Polling(900), sales, [], {"A": 1}, ["shop", "market"], 100.0, seed=1)
    assert (polled.sales, polled.oversold_units) == (2, 1)  # no poll fell between them
    pushed = simulate(Propagation([0.3]), sales, [Restock(50.0, "A", 1)], {"A": 1},
                      ["shop", "market"], 100.0)
    assert (pushed.sales, pushed.oversold_units, pushed.turned_away) == (1, 0, 0)


def test_push_times_come_from_this_process_s_measurements() -> None:
    import uuid

    from stocksync import metrics
    from stocksync.leakage.propagation import measured_push, quantiles

    tenant = f"t_{uuid.uuid4().hex[:16]}"
    assert measured_push(tenant) == []
    for seconds in (0.03, 0.2, 0.2, 7.0):
        metrics.PROPAGATION.labels(tenant, "web").observe(seconds)
    metrics.PROPAGATION.labels(tenant, "shop").observe(400.0)
    # Each observation at its bucket's upper bound; beyond the last bound, twice it.
    assert measured_push(tenant) == [0.05, 0.25, 0.25, 10.0, 600.0]
    spread = sorted(quantiles(0.1, 0.3))
    assert (len(spread), spread[49] < 0.1 < spread[50], spread[98] < 0.3 < spread[99]) == (
        100, True, True)
