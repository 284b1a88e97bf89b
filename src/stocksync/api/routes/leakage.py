"""The revenue-leakage calculator: an estimate from a few figures, or a simulation on the
tenant's own sales (a generated stream while it has none)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from stocksync.api.deps import Svc, Who
from stocksync.api.schemas import Strict
from stocksync.core.errors import InvalidInput
from stocksync.leakage.estimate import SEED_EXAMPLE, LeakageInputError, LeakageInputs, estimate
from stocksync.leakage.orders import default_stream, from_log
from stocksync.leakage.oversell_model import MAX_CHANNELS, SellThrough, oversell_rate
from stocksync.leakage.report import SEED_TABLE, Costs, compare, summary

router = APIRouter(prefix="/v1/leakage", tags=["leakage"])
Fraction = Annotated[Decimal, Field(ge=0, le=1, max_digits=8, decimal_places=6)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
# Polling every 30 s at the shortest: each poll is an event of the simulation.
Interval = Annotated[float, Field(ge=0.5, le=1440)]


class DeriveIn(Strict):
    velocity_per_day: Annotated[float, Field(gt=0, le=1_000_000, description="units of "
                                             "one SKU sold a day, all channels together")]
    stock_depth: Annotated[int, Field(ge=1, le=1_000_000, description="units on hand "
                                      "after a restock")]
    channels: Annotated[int, Field(ge=1, le=MAX_CHANNELS)]


class EstimateIn(Strict):
    orders_per_day: Annotated[int, Field(ge=0, le=10_000_000)] = SEED_EXAMPLE.orders_per_day
    sync_interval_minutes: Annotated[Decimal, Field(ge=Decimal("0.01"), le=1440,
                                                    max_digits=8, decimal_places=2)] = \
        SEED_EXAMPLE.sync_interval_minutes
    average_order_value: Money = SEED_EXAMPLE.average_order_value
    oversell_rate: Fraction = SEED_EXAMPLE.oversell_rate
    customer_lifetime_value: Money = SEED_EXAMPLE.customer_lifetime_value
    churn_after_cancellation: Fraction = SEED_EXAMPLE.churn_after_cancellation
    derive: DeriveIn | None = Field(None, description="derive the oversell rate from the "
                                    "interval, velocity, depth and channels instead")


@router.post("/estimate")
def leakage_estimate(body: EstimateIn, who: Who) -> dict[str, Any]:
    """Daily revenue leaked by stale stock: lost orders, cancellations and the lifetime
    value of the customers who leave after one. Defaults: the seed article's example."""
    rate = body.oversell_rate
    if body.derive is not None:
        try:
            rate = Decimal(str(round(oversell_rate(SellThrough(
                float(body.sync_interval_minutes) * 60, body.derive.velocity_per_day,
                body.derive.stock_depth, body.derive.channels)), 6)))
        except ValueError as exc:
            raise InvalidInput(str(exc), field="derive") from exc
    inputs = LeakageInputs(body.orders_per_day, body.sync_interval_minutes,
                           body.average_order_value, rate, body.customer_lifetime_value,
                           body.churn_after_cancellation)
    try:
        found = estimate(inputs)
    except LeakageInputError as exc:
        raise InvalidInput(str(exc), field="body") from exc
    return {**found.as_json(), "oversell_rate_derived": body.derive is not None}


class SimulateIn(Strict):
    intervals_minutes: Annotated[list[Interval],
                                 Field(min_length=1, max_length=6)] = [15.0, 1.0]
    seed: Annotated[int, Field(ge=0, le=2**31)] = 1
    generated: bool = Field(False, description="simulate a generated order stream even "
                            "when the tenant has sales")
    average_order_value: Money = SEED_EXAMPLE.average_order_value
    customer_lifetime_value: Money = SEED_EXAMPLE.customer_lifetime_value
    churn_after_cancellation: Fraction = SEED_EXAMPLE.churn_after_cancellation


@router.post("/simulate")
def leakage_simulate(body: SimulateIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Replay the tenant's sales (or a generated stream) under polling every N minutes
    and under stocksync's measured propagation; oversells, freshness and leakage each."""
    stream = None if body.generated else from_log(svc, who.tenant_id)
    if stream is None or not stream.sales:
        stream = default_stream(body.seed)
    rows = compare(stream, body.intervals_minutes,
                   Costs(body.average_order_value, body.customer_lifetime_value,
                         body.churn_after_cancellation),
                   fresh_threshold_seconds=svc.settings.agent_fresh_seconds, seed=body.seed)
    if not rows:
        raise InvalidInput("nothing to simulate", field="intervals_minutes")
    return {"stream": summary(stream), "rows": rows,
            "seed_claims": [dict(zip(("mode", "max_sync_latency", "agent_visibility",
                                      "oversell_probability"), r, strict=True))
                            for r in SEED_TABLE]}
