"""Order streams to simulate: the tenant's own sales read from its log, or a generated
stream for a tenant without history."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from stocksync.app import handlers as h
from stocksync.app.service import Stocksync
from stocksync.leakage.propagation import (
    BENCH_PUSH,
    BENCH_SALE_TO_LEDGER,
    benchmark_propagation,
    measured_push,
    quantiles,
)
from stocksync.leakage.simulation import Restock, Sale
from stocksync.storage.channels import SqlChannels
from stocksync.storage.events import LoggedEvent

PAGE = 5000
DEFAULT_DAYS = 30.0
MAX_SALES = 500_000  # a busier window is cut here (the simulation holds it in memory)


@dataclass(frozen=True, slots=True)
class OrderStream:
    sales: list[Sale]
    restocks: list[Restock]
    stock: dict[str, int]
    channels: list[str]
    horizon_seconds: float
    propagation_seconds: list[float]
    source: str  # "log" or "generated"
    propagation_source: str = "benchmarks"


def generated(*, skus: int, channels: Sequence[str], days: float, velocity_per_day: float,
              stock_depth: int, restock_hours: float, seed: int) -> OrderStream:
    """Poisson demand per SKU, each order for one unit on a channel drawn at random; every
    SKU starts with `stock_depth` units and gets `stock_depth` more every restock_hours."""
    rng = random.Random(seed)
    horizon = days * 86_400.0
    sales: list[Sale] = []
    restocks: list[Restock] = []
    for n in range(skus):
        sku = f"SKU-{n:05d}"
        at = rng.expovariate(velocity_per_day / 86_400.0)
        while at < horizon:
            sales.append(Sale(at, sku, rng.choice(list(channels))))
            at += rng.expovariate(velocity_per_day / 86_400.0)
        t = restock_hours * 3600.0
        while t < horizon:
            restocks.append(Restock(t, sku, stock_depth))
            t += restock_hours * 3600.0
    sales.sort(key=lambda s: s.at)
    return OrderStream(sales, restocks, {f"SKU-{n:05d}": stock_depth for n in range(skus)},
                       list(channels), horizon, benchmark_propagation(), "generated")


def from_log(svc: Stocksync, tenant_id: str, days: float = DEFAULT_DAYS) -> OrderStream:
    """The tenant's last `days` of sales (sold and committed) and receipts from its log.
    Opening stock is each SKU's on hand just before the window (replayed from the log)
    plus receipts before the first sale; later receipts are restocks. A sale's channel is
    where it came from (`shopify:shop1` -> shop1, else the source). Propagation: see
    leakage/propagation.py."""
    sales: list[Sale] = []
    restocks: list[Restock] = []
    ingest: list[float] = []
    since = svc.clock() - timedelta(days=days)
    with svc.uow(tenant_id, write=False) as uow:
        configured = [c.code for c in SqlChannels(uow.conn, tenant_id).list()]
        after, first = 0, None
        while len(sales) < MAX_SALES and (batch := uow.log.page(after, PAGE, since=since)):
            after = batch[-1].sequence or after
            first = batch[0].sequence if first is None else first
            for e in batch:
                _collect(e, sales, restocks, ingest)
        measured_ingest = bool(ingest)
        opening = {sku: sum(max(lv.on_hand, 0) for lv in h.levels_as_of(
            uow, sku, sequence=first - 1, until=None))
            for sku in {s.sku for s in sales}} if first else {}
    origin = min([s.at for s in sales] + [r.at for r in restocks]) if sales else 0.0
    sales = sorted((Sale(s.at - origin, s.sku, s.channel, s.quantity) for s in sales),
                   key=lambda s: s.at)
    first_sale = sales[0].at if sales else float("inf")
    later = []
    for r in restocks:
        if r.at - origin <= first_sale:  # the opening stock every channel starts with
            opening[r.sku] = opening.get(r.sku, 0) + r.quantity
        else:
            later.append(Restock(r.at - origin, r.sku, r.quantity))
    channels = sorted(set(configured) | {s.channel for s in sales})
    end = max([s.at for s in sales] + [r.at for r in later] + [0.0])
    pushed = measured_push(tenant_id)
    push = pushed or quantiles(*BENCH_PUSH)
    if not ingest:
        ingest = quantiles(*BENCH_SALE_TO_LEDGER)
    # Pair every measured sale -> ledger time with push times in turn (both sorted, so a
    # slow ingest is not always paired with a fast push).
    ingest.sort()
    propagation = [a + push[(i * len(push)) // len(ingest)] for i, a in enumerate(ingest)]
    source = " + ".join(("sale -> ledger from the log" if measured_ingest else
                         "sale -> ledger from benchmarks",
                         "push from this process" if pushed else "push from benchmarks"))
    return OrderStream(sales, later, opening, channels, end + 1.0, propagation, "log",
                       source)


def _collect(e: LoggedEvent, sales: list[Sale], restocks: list[Restock],
             ingest: list[float]) -> None:
    if not e.sku or e.quantity == 0:
        return
    at = e.occurred_at.timestamp()
    if e.type in ("stock.sold", "stock.committed"):
        channel = e.source.split(":", 1)[1] if ":" in e.source else e.source
        sales.append(Sale(at, e.sku, channel, abs(e.quantity)))
        if ":" in e.source:  # a channel's own sale: how long it took to reach the ledger
            ingest.append(max((e.recorded_at - e.occurred_at).total_seconds(), 0.0))
    elif e.type in ("stock.received", "stock.adjusted") and e.quantity > 0:
        restocks.append(Restock(at, e.sku, e.quantity))


def default_stream(seed: int) -> OrderStream:
    """For a tenant without sales: a week of three channels selling 100 SKUs, each 24
    units a day from 12 on hand, restocked by 12 every 12 hours."""
    return generated(skus=100, channels=["shopify", "amazon", "ebay"], days=7,
                     velocity_per_day=24, stock_depth=12, restock_hours=12, seed=seed)
