"""The comparison table: one row per sync mode, measured on one order stream (the seed's
table had max latency, agent visibility and oversell probability as claims)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stocksync.leakage.estimate import SEED_EXAMPLE
from stocksync.leakage.orders import OrderStream
from stocksync.leakage.simulation import SECONDS_PER_DAY, Polling, Propagation, simulate

SEED_TABLE = (  # what the seed article claims, for the side-by-side in the README and CLI
    ("polling every 15 min", "900 s", "0 %", "high"),
    ("polling every 1 min", "60 s", "0 %", "medium"),
    ("event-driven", "< 0.5 s", "100 %", "near zero"),
)


@dataclass(frozen=True, slots=True)
class Costs:
    average_order_value: Decimal = SEED_EXAMPLE.average_order_value
    customer_lifetime_value: Decimal = SEED_EXAMPLE.customer_lifetime_value
    churn_after_cancellation: Decimal = SEED_EXAMPLE.churn_after_cancellation

    def per_cancelled_order(self) -> Decimal:
        return self.average_order_value + \
            self.churn_after_cancellation * self.customer_lifetime_value


def compare(stream: OrderStream, intervals_minutes: Sequence[float], costs: Costs, *,
            fresh_threshold_seconds: float, seed: int) -> list[dict[str, Any]]:
    modes: list[Polling | Propagation] = [Polling(m * 60.0) for m in intervals_minutes]
    modes.append(Propagation(stream.propagation_seconds))
    days = Decimal(str(stream.horizon_seconds / SECONDS_PER_DAY))
    rows = []
    for mode in modes:
        out = simulate(mode, stream.sales, stream.restocks, stream.stock, stream.channels,
                       stream.horizon_seconds, fresh_threshold_seconds=fresh_threshold_seconds,
                       seed=seed)
        per_day = (Decimal(out.oversold_orders) / days * costs.per_cancelled_order()
                   if days else Decimal(0))
        taken = out.sales or 1
        rows.append({"mode": out.mode,
                     "max_sync_latency_seconds": round(out.max_sync_latency_seconds, 3),
                     "fresh_share": round(out.fresh_share, 4),
                     "sales": out.sales, "oversold_orders": out.oversold_orders,
                     "oversold_units": out.oversold_units,
                     "oversell_rate": round(out.oversold_orders / taken, 5),
                     "turned_away": out.turned_away,
                     "leakage_per_day": str(per_day.quantize(Decimal("0.01")))})
    return rows


def summary(stream: OrderStream) -> dict[str, Any]:
    return {"source": stream.source, "sales": len(stream.sales), "skus":
            len({s.sku for s in stream.sales}), "channels": stream.channels,
            "days": round(stream.horizon_seconds / SECONDS_PER_DAY, 3),
            "propagation_samples": len(stream.propagation_seconds),
            "propagation_source": stream.propagation_source}
