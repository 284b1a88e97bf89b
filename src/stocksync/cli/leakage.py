"""`stocksync leakage estimate|simulate`: what stale stock costs."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from stocksync.cli.common import (
    DbOption,
    FlagsCommand,
    command_group,
    console,
    fail,
    settings,
    table,
    tenant_or_exit,
)
from stocksync.leakage.estimate import SEED_EXAMPLE as SEED

leakage_app = command_group("Revenue leaked by stale stock: an estimate, or a simulation "
                            "on a tenant's own sales.")
Money = Annotated[str, typer.Option(help="amount in your currency")]


def _decimal(name: str, raw: str, scale: Decimal = Decimal(1)) -> Decimal:
    try:
        value = Decimal(raw) / scale
    except InvalidOperation as exc:
        raise fail(f"{name}: {raw!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise fail(f"{name}: must be a number, 0 or more")
    return value


@leakage_app.command("estimate", cls=FlagsCommand)
def estimate_cmd(
    orders_per_day: Annotated[int, typer.Option(min=0)] = SEED.orders_per_day,
    interval_minutes: Annotated[str, typer.Option(help="sync interval")] = "15",
    aov: Money = "1500", clv: Money = "8000",
    oversell_percent: Annotated[str, typer.Option(help="share of orders oversold")] = "2",
    churn_percent: Annotated[str, typer.Option(help="customers lost after a "
                                               "cancellation")] = "30",
    velocity: Annotated[float | None, typer.Option(help="derive the oversell rate: units "
                                                   "of one SKU sold a day")] = None,
    depth: Annotated[int, typer.Option(min=1, help="with --velocity: units on hand after a "
                                       "restock")] = 20,
    channels: Annotated[int, typer.Option(min=1, max=10, help="with --velocity: channels "
                                          "selling the same stock")] = 3,
    currency: Annotated[str, typer.Option(help="symbol shown")] = "₹",
) -> None:
    """Daily leakage from a few figures (defaults: the seed article's example, ₹37,440)."""
    from stocksync.leakage.estimate import LeakageInputError, LeakageInputs, estimate
    from stocksync.leakage.oversell_model import SellThrough, oversell_rate

    interval = _decimal("--interval-minutes", interval_minutes)
    rate = _decimal("--oversell-percent", oversell_percent, Decimal(100))
    if velocity is not None:
        try:
            rate = Decimal(str(round(oversell_rate(SellThrough(
                float(interval) * 60, velocity, depth, channels)), 6)))
        except ValueError as exc:
            raise fail(str(exc)) from exc
    inputs = LeakageInputs(orders_per_day, interval, _decimal("--aov", aov), rate,
                           _decimal("--clv", clv),
                           _decimal("--churn-percent", churn_percent, Decimal(100)))
    try:
        found = estimate(inputs)
    except LeakageInputError as exc:
        raise fail(str(exc)) from exc
    shown = table("revenue leakage per day", "", "value", right=("value",))
    rows = [("sync windows a day", str(found.windows_per_day)),
            ("orders per window (whole)", str(found.orders_per_window)),
            ("orders exposed", str(found.orders_exposed)),
            ("oversell rate" + (" (derived)" if velocity is not None else ""),
             f"{rate * 100:.4f} %"),
            ("oversold orders = cancellations", f"{found.oversold_orders:.2f}"),
            ("lost revenue", f"{currency}{found.lost_revenue:,.2f}"),
            ("customers churned", f"{found.churned_customers:.2f}"),
            ("churned lifetime value", f"{currency}{found.churned_lifetime_value:,.2f}"),
            ("leakage per day", f"{currency}{found.per_day:,.2f}"),
            ("leakage per year", f"{currency}{found.per_day * 365:,.2f}")]
    for label, value in rows:
        shown.add_row(label, value)
    console.print(shown)


@leakage_app.command("simulate", cls=FlagsCommand)
def simulate_cmd(
    tenant: Annotated[str | None, typer.Option(help="replay this tenant's sales (id or "
                                               "name); without it, a generated stream")]
    = None,
    interval: Annotated[list[float] | None, typer.Option(
        "--interval", min=0.5, max=1440, help="polling interval in minutes (repeat)")] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same table)")] = 1,
    aov: Money = "1500", clv: Money = "8000",
    churn_percent: Annotated[str, typer.Option()] = "30",
    currency: Annotated[str, typer.Option(help="symbol shown")] = "₹",
    database_url: DbOption = None,
) -> None:
    """Polling every N minutes against stocksync's measured propagation, on the same
    orders: max sync latency, time fresh for agents, oversells, leakage per day."""
    from stocksync.leakage.orders import default_stream, from_log
    from stocksync.leakage.report import SEED_TABLE, Costs, compare, summary

    cfg = settings(database_url)
    stream = None
    if tenant is not None:
        from stocksync.bootstrap import build_service

        svc = build_service(cfg)
        stream = from_log(svc, tenant_or_exit(svc, tenant).id)
        if not stream.sales:
            console.print("no sales in this tenant's log yet: simulating a generated stream")
    if stream is None or not stream.sales:
        stream = default_stream(seed)
    costs = Costs(_decimal("--aov", aov), _decimal("--clv", clv),
                  _decimal("--churn-percent", churn_percent, Decimal(100)))
    rows = compare(stream, interval or [15.0, 1.0], costs,
                   fresh_threshold_seconds=cfg.agent_fresh_seconds, seed=seed)
    info = summary(stream)
    console.print(f"{info['source']} stream: {info['sales']} sales of {info['skus']} SKUs on "
                  f"{len(info['channels'])} channels over {info['days']} days; stocksync's "
                  f"propagation: {info['propagation_source']}", soft_wrap=True)
    measured = table("measured (simulation)", "sync", "max latency s", "fresh for agents",
                     "oversold orders", "oversell rate", "turned away", "leakage / day",
                     right=("max latency s", "fresh for agents", "oversold orders",
                            "oversell rate", "turned away", "leakage / day"))
    for r in rows:
        measured.add_row(r["mode"], f"{r['max_sync_latency_seconds']:g}",
                         f"{r['fresh_share'] * 100:.1f} %", str(r["oversold_orders"]),
                         f"{r['oversell_rate'] * 100:.3f} %", str(r["turned_away"]),
                         f"{currency}{Decimal(r['leakage_per_day']):,.2f}")
    console.print(measured)
    claimed = table("claimed (seed article)", "sync", "max latency", "agent visibility",
                    "oversell probability")
    for row in SEED_TABLE:
        claimed.add_row(*row)
    console.print(claimed)
