"""The revenue-leakage estimate: pure arithmetic on a merchant's figures.

It follows the seed article's example (500 orders a day, a 15-minute sync interval, ₹1,500
average order, 2 % oversold, ₹8,000 lifetime value, 30 % churn after a cancellation:
₹37,440 a day). Its arithmetic counts orders in whole sync windows: 1440 / 15 = 96 windows
a day, floor(500 / 96) = 5 orders per window, so 480 orders are exposed; 2 % of them is 9.6
oversold orders, each one cancelled. Each costs the order (₹1,500) and, for the 30 % of
those customers who leave, their lifetime value (₹8,000):
9.6 x 1,500 + 9.6 x 0.30 x 8,000 = 14,400 + 23,040 = ₹37,440.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MINUTES_PER_DAY = 1440
MIN_INTERVAL = Decimal("0.01")


class LeakageInputError(ValueError):
    """An input the estimate cannot use (the message names it)."""


@dataclass(frozen=True, slots=True)
class LeakageInputs:
    orders_per_day: int
    sync_interval_minutes: Decimal
    average_order_value: Decimal
    oversell_rate: Decimal  # a fraction: 0.02 is 2 %
    customer_lifetime_value: Decimal
    churn_after_cancellation: Decimal  # a fraction of the customers whose order is cancelled

    def check(self) -> None:
        if self.orders_per_day < 0:
            raise LeakageInputError("orders_per_day must be 0 or more")
        if not MIN_INTERVAL <= self.sync_interval_minutes <= MINUTES_PER_DAY:
            raise LeakageInputError("sync_interval_minutes must be 0.01 to 1440")
        for name in ("average_order_value", "customer_lifetime_value"):
            if getattr(self, name) < 0:
                raise LeakageInputError(f"{name} must be 0 or more")
        for name in ("oversell_rate", "churn_after_cancellation"):
            if not 0 <= getattr(self, name) <= 1:
                raise LeakageInputError(f"{name} must be a fraction from 0 to 1")


SEED_EXAMPLE = LeakageInputs(
    orders_per_day=500, sync_interval_minutes=Decimal(15),
    average_order_value=Decimal(1500), oversell_rate=Decimal("0.02"),
    customer_lifetime_value=Decimal(8000), churn_after_cancellation=Decimal("0.30"))


@dataclass(frozen=True, slots=True)
class LeakageEstimate:
    inputs: LeakageInputs
    windows_per_day: int
    orders_per_window: int
    orders_exposed: int
    oversold_orders: Decimal  # each one is cancelled: the lost orders
    lost_revenue: Decimal
    churned_customers: Decimal
    churned_lifetime_value: Decimal

    @property
    def per_day(self) -> Decimal:
        return self.lost_revenue + self.churned_lifetime_value

    def as_json(self) -> dict[str, object]:
        money = _money
        return {
            "inputs": {"orders_per_day": self.inputs.orders_per_day,
                       "sync_interval_minutes": str(self.inputs.sync_interval_minutes),
                       "average_order_value": str(self.inputs.average_order_value),
                       "oversell_rate": str(self.inputs.oversell_rate),
                       "customer_lifetime_value": str(self.inputs.customer_lifetime_value),
                       "churn_after_cancellation":
                           str(self.inputs.churn_after_cancellation)},
            "windows_per_day": self.windows_per_day,
            "orders_per_window": self.orders_per_window,
            "orders_exposed": self.orders_exposed,
            "oversold_orders": str(self.oversold_orders),
            "cancellations": str(self.oversold_orders),
            "lost_revenue": money(self.lost_revenue),
            "churned_customers": str(self.churned_customers),
            "churned_lifetime_value": money(self.churned_lifetime_value),
            "leakage_per_day": money(self.per_day),
            "leakage_per_year": money(self.per_day * 365),
        }


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def estimate(inputs: LeakageInputs) -> LeakageEstimate:
    """Daily leakage: lost orders plus the lifetime value of the customers who leave."""
    inputs.check()
    windows = int(MINUTES_PER_DAY // inputs.sync_interval_minutes)
    per_window = inputs.orders_per_day // windows
    exposed = per_window * windows
    oversold = exposed * inputs.oversell_rate
    churned = oversold * inputs.churn_after_cancellation
    return LeakageEstimate(
        inputs=inputs, windows_per_day=windows, orders_per_window=per_window,
        orders_exposed=exposed, oversold_orders=oversold,
        lost_revenue=oversold * inputs.average_order_value, churned_customers=churned,
        churned_lifetime_value=churned * inputs.customer_lifetime_value)
