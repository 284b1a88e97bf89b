"""The oversell rate a sync interval causes, derived instead of guessed.

Model (stated in the README with its assumptions):
- one SKU sells `velocity_per_day` units a day, one unit per order, as a Poisson process
  split evenly over `channels` channels;
- every `interval_seconds` each channel is set to the true stock S; between two syncs a
  channel only knows its own sales, so each of the C channels may sell up to S units;
- sales beyond the true stock in a window are oversold (and cancelled); at the next sync
  every channel shows what is left, at zero the SKU is restocked to `stock_depth` units.

Per window, channel i sells min(N_i, S) with N_i ~ Poisson(velocity x interval / C); the
window oversells max(0, Σ min(N_i, S) - S). A walk over S from the restock depth down to 0
gives the expected oversold units per stock cycle; the rate is oversold / orders taken.
One channel can never oversell itself: the rate is 0 for C = 1, and shrinks with the
interval. Pure arithmetic, no randomness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400.0
TAIL = 1e-12  # Poisson mass dropped beyond this
MAX_WINDOW_SALES = 25.0  # per channel and window: beyond it the sums get slow, and the
# answer is plain anyway (most of every stock cycle's last window is oversold)
MAX_CHANNELS = 10
# Far above the window's possible sales the walk forgets where it started: the expected
# oversold units per cycle settle to a constant, so deeper stock changes nothing.
SETTLED = 1e-12


@dataclass(frozen=True, slots=True)
class SellThrough:
    interval_seconds: float
    velocity_per_day: float  # units of one SKU sold a day, all channels together
    stock_depth: int  # units on hand after a restock
    channels: int

    def check(self) -> None:
        if self.interval_seconds <= 0:
            raise ValueError("interval_seconds must be above 0")
        if self.velocity_per_day <= 0:
            raise ValueError("velocity_per_day must be above 0")
        if not 1 <= self.stock_depth <= 1_000_000:
            raise ValueError("stock_depth must be 1 to 1000000")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise ValueError(f"channels must be 1 to {MAX_CHANNELS}")
        window = self.velocity_per_day * self.interval_seconds / SECONDS_PER_DAY / self.channels
        if window > MAX_WINDOW_SALES:
            raise ValueError(f"{window:.0f} sales per channel in one sync window: the model "
                             f"takes up to {MAX_WINDOW_SALES:.0f} (use the simulation)")


def _poisson(mean: float) -> list[float]:
    """P(N = k) up to where the tail is negligible."""
    probs = [math.exp(-mean)]
    k = 0
    while True:
        k += 1
        probs.append(probs[-1] * mean / k)
        if k > mean and sum(probs) > 1 - TAIL:
            return probs


def _capped(probs: list[float], cap: int) -> list[float]:
    """Distribution of min(N, cap)."""
    head = probs[:cap]
    return [*head, max(1.0 - sum(head), 0.0)]


def _convolve(a: list[float], b: list[float]) -> list[float]:
    out = [0.0] * (len(a) + len(b) - 1)
    for i, pa in enumerate(a):
        if pa:
            for j, pb in enumerate(b):
                out[i + j] += pa * pb
    return out


def oversell_rate(model: SellThrough) -> float:
    """Expected oversold orders / orders taken, for one SKU over many stock cycles."""
    model.check()
    mean = model.velocity_per_day * model.interval_seconds / SECONDS_PER_DAY / model.channels
    per_channel = _poisson(mean)
    oversold_from = [0.0] * (model.stock_depth + 1)  # expected oversold until restock
    uncapped: list[float] | None = None  # the same for every stock above the support
    for stock in range(1, model.stock_depth + 1):
        if stock >= len(per_channel) and uncapped is not None:
            total = uncapped
        else:
            one = _capped(per_channel, stock)
            total = one
            for _ in range(model.channels - 1):
                total = _convolve(total, one)
            if stock >= len(per_channel):
                uncapped = total
        stay = total[0]
        if stay >= 1.0:
            return 0.0
        expected = 0.0
        for sold, p in enumerate(total[1:], start=1):
            taken = min(sold, stock)
            expected += p * (max(sold - stock, 0) + oversold_from[stock - taken])
        oversold_from[stock] = expected / (1.0 - stay)  # a window without sales repeats
        if stock > 4 * len(total) and \
                abs(oversold_from[stock] - oversold_from[stock - 1]) <= SETTLED:
            oversold_from[model.stock_depth] = oversold_from[stock]
            break
    oversold = oversold_from[model.stock_depth]
    return oversold / (model.stock_depth + oversold)
