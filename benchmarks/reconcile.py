"""Reconcile: a full dry-run reconciliation of a large Shopify catalogue, against the floor
Shopify's cost-based rate limit allows (shopify.md §4, /work/shared/channels/shopify.md).

stocksync runs in this process on a throwaway SQLite file (items and levels bulk-inserted in
one transaction, no ledger events: reconcile reads only items and levels). The Shopify
simulator runs in a thread with the Standard plan's restore rate; its catalogue is built
in-process before it starts (`add_product` scans every variant per SKU, so it is quadratic),
and 1% of its quantities are planted wrong. Then `reconcile()` runs, as
`POST /v1/channels/{code}/reconcile` runs it, in up to two phases:

- `with discovery`: no stored mapping; the connector pages `productVariants` first.
- `mapping known`: the SKU -> InventoryItem mapping is stored and `connect()` loads it. Today
  `reconcile()` discovers whenever the connector can, so this phase hides `discover_mapping`.

The floor is the least time any client could take: (cost points the calls really used -
one full bucket) / restore rate. If the floor at --skus is over --budget-seconds, a smaller
catalogue runs and the result is extrapolated to --skus (printed as such).

    .venv/bin/python -m benchmarks.reconcile [--skus 30000] [--restore-rate 100]
        [--bucket 1000] [--phases both|discovery|known] [--budget-seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from cryptography.fernet import Fernet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import insert

from benchmarks import common
from stocksync.app.connect import connect
from stocksync.app.reconcile import ReconcileReport, reconcile
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.channels.base import ChannelConnector, PushReport, QuantitySet
from stocksync.channels.shopify import ShopifyConnector
from stocksync.channels.shopify_throttle import (
    LEVEL_COST_PER_ITEM,
    MAX_PAGE,
    VARIANT_COST_PER_NODE,
    VARIANT_PAGE_OVERHEAD,
)
from stocksync.config import Settings
from stocksync.core.catalog import Location
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import Level as ShopLevel
from stocksync.simulators.shopify_state import (
    Product,
    ShopifySimConfig,
    ShopifySimState,
    Variant,
    gid,
    now_iso,
)
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tables import items, stock_levels
from stocksync.storage.tenants import create_tenant

SHOPIFY_ID = ShopifyConnector.mapping_field or ""  # where a SKU's inventory item id is kept
STANDARD_RESTORE_RATE = 100.0  # shopify.md §4: Standard plan, current docs (older: 50)
DEFAULT_BUCKET = 1000.0  # shopify.md §4: only published size (older docs); simulator default
BUDGET_SECONDS = 600.0  # larger floors run a smaller catalogue and extrapolate
DRIFT_SHARE = 0.01  # share of SKUs planted wrong in the simulator
MAX_STOCK = 50
SHOPIFY_TOKEN = "shpat_reconcile_bench_token"
LOCATION = "WH"
CHANNEL = "shop"
REFILL_MARGIN_S = 0.5
PHASES = {"discovery": "with discovery", "known": "mapping known"}


# ---- the cost model: what a full read must spend (same rules as the connector) ---------------


def planned_cost(skus: int, discovery: bool) -> int:
    """Points the calls use: `nodes` reads 3 per SKU; discovery adds 2 per variant plus 2 per
    `productVariants` page of 250."""
    cost = skus * LEVEL_COST_PER_ITEM
    if discovery:
        cost += skus * VARIANT_COST_PER_NODE + math.ceil(skus / MAX_PAGE) * VARIANT_PAGE_OVERHEAD
    return cost


def floor_seconds(cost: float, bucket: float, rate: float) -> float:
    """A full bucket is free at the start; everything beyond it arrives at `rate`."""
    return max(0.0, cost - bucket) / rate


def runnable_skus(target: int, phases: Sequence[str], bucket: float, rate: float,
                  budget: float) -> int:
    """`target`, or the largest multiple of 250 whose floors (all phases) fit `budget`."""
    def total(n: int) -> float:
        return sum(floor_seconds(planned_cost(n, p == "discovery"), bucket, rate)
                   for p in phases)
    if total(target) <= budget:
        return target
    n = MAX_PAGE
    while n + MAX_PAGE < target and total(n + MAX_PAGE) <= budget:
        n += MAX_PAGE
    return n


# ---- seeding: stocksync and the simulator ----------------------------------------------------


def make_stock(count: int, rng: random.Random) -> dict[str, int]:
    return {f"SKU-{i:06d}": rng.randint(0, MAX_STOCK) for i in range(1, count + 1)}


def plant_drift(stock: Mapping[str, int], rng: random.Random) -> dict[str, int]:
    """~1% of SKUs with a wrong (non-negative, different) quantity on Shopify."""
    wrong = rng.sample(sorted(stock), max(1, round(len(stock) * DRIFT_SHARE)))
    planted: dict[str, int] = {}
    for sku in wrong:
        delta = rng.choice([d for d in range(-5, 6) if d and stock[sku] + d >= 0])
        planted[sku] = stock[sku] + delta
    return planted


def seed_stocksync(svc: Stocksync, stock: Mapping[str, int]) -> str:
    """Tenant, location, items and levels in one transaction; returns the tenant id."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        tenant = create_tenant(conn, "reconcile-bench", now)
    with svc.uow(tenant.id) as uow:
        uow.catalog.put_location(Location(LOCATION, "Bench warehouse"), now)
        uow.conn.execute(insert(items), [
            {"tenant_id": tenant.id, "sku": sku, "title": f"bench {sku}", "attributes": {},
             "barcodes": [], "images": [], "created_at": now, "updated_at": now}
            for sku in stock])
        uow.conn.execute(insert(stock_levels), [
            {"tenant_id": tenant.id, "sku": sku, "location": LOCATION, "on_hand": quantity,
             "reserved": 0, "pending": 0, "version": 1, "updated_at": now}
            for sku, quantity in stock.items()])
        uow.commit()
    return tenant.id


def seed_shop(sim: ShopifySimState, quantities: Mapping[str, int]) -> dict[str, str]:
    """One product per SKU at the default location, built as `add_product` builds it minus
    its duplicate-SKU scan. Call before the server starts. Returns sku -> InventoryItem GID."""
    location_id, stamp = sim.default_location_id, now_iso()
    mapping: dict[str, str] = {}
    for sku, available in quantities.items():
        product = Product(sim.new_id(), f"bench {sku}")
        variant = Variant(sim.new_id(), product.id, sku, product.title, "0.00", sim.new_id())
        product.variant_ids.append(variant.id)
        sim.products[product.id] = product
        sim.variants[variant.id] = variant
        sim.variant_by_item[variant.inventory_item_id] = variant.id
        sim.levels[(variant.inventory_item_id, location_id)] = ShopLevel(available, 0, stamp)
        mapping[sku] = gid("InventoryItem", variant.inventory_item_id)
    return mapping


def add_channel(svc: Stocksync, tenant_id: str, shop_url: str, location_id: int) -> Channel:
    assert svc.box is not None
    channel = Channel(tenant_id=tenant_id, code=CHANNEL, kind=ChannelKind.SHOPIFY,
                      name="Shopify (simulator)", rules=ChannelRules(locations=(LOCATION,)),
                      settings={"shop_url": shop_url, "location_id": str(location_id)})
    with svc.uow(tenant_id) as uow:
        repo = SqlChannels(uow.conn, tenant_id)
        repo.add(channel, svc.box.seal({"access_token": SHOPIFY_TOKEN}), 0, svc.clock())
        uow.commit()
        stored = repo.get(CHANNEL)
    assert stored is not None
    return stored


def store_mapping(svc: Stocksync, tenant_id: str, mapping: Mapping[str, str]) -> None:
    with svc.uow(tenant_id) as uow:
        SqlChannels(uow.conn, tenant_id).set_external_ids(
            CHANNEL, {sku: {SHOPIFY_ID: item} for sku, item in mapping.items()})
        uow.commit()


# ---- the measured run ------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    started: float = field(default_factory=time.perf_counter)
    first_call: float | None = None
    discovery_s: float = 0.0
    reads_s: float = 0.0


class KnownMapping:
    """The connector as reconcile sees it when it must not discover: reads and pushes only.
    Times the calls and labels the progress bar."""

    kind: ClassVar[str] = "shopify"
    max_batch: ClassVar[int] = 250

    def __init__(self, inner: ChannelConnector, timing: Timing, progress: Progress,
                 task: Any) -> None:
        self.inner, self.timing, self.progress, self.task = inner, timing, progress, task

    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        return await self.inner.set_quantities(changes)

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        began = time.perf_counter()
        self.timing.first_call = self.timing.first_call or began
        self.progress.update(self.task, description="reading levels (nodes)")
        try:
            return await self.inner.fetch_quantities(skus)
        finally:
            self.timing.reads_s += time.perf_counter() - began


class WithDiscovery(KnownMapping):
    @property
    def mapping(self) -> dict[str, str]:
        return self.inner.mapping  # type: ignore[attr-defined, no-any-return]

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]:
        began = time.perf_counter()
        self.timing.first_call = self.timing.first_call or began
        self.progress.update(self.task, description="discovering (productVariants)")
        try:
            found: dict[str, str] = await self.inner.discover_mapping(skus)  # type: ignore[attr-defined]
            return found
        finally:
            self.timing.discovery_s += time.perf_counter() - began


async def run_reconcile(svc: Stocksync, channel: Channel, phase: str, console: Console
                        ) -> tuple[ReconcileReport, float, Timing]:
    progress = Progress(TextColumn("{task.description:<30}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    with progress:
        task = progress.add_task("reading the ledger", total=None)
        timing = Timing()
        async with httpx.AsyncClient(timeout=30) as client:
            inner = await asyncio.to_thread(connect, svc, channel, client)
            wrapper = (WithDiscovery if phase == "discovery" else KnownMapping)(
                inner, timing, progress, task)
            report = await reconcile(
                svc, channel, wrapper,
                progress=lambda done, total: progress.update(task, completed=done, total=total))
        wall = time.perf_counter() - timing.started
    return report, wall, timing


@dataclass(frozen=True, slots=True)
class Row:
    phase: str
    skus: int
    calls: int
    calls_by_field: dict[str, int]
    requested_cost: int
    actual_cost: int
    restore_rate: float
    bucket: float
    floor_s: float
    wall_s: float
    wall_over_floor: float | None
    throttled: int
    errors: int
    found: int
    planted: int
    exact: bool
    problems: list[str]
    ledger_s: float = 0.0  # reading items and levels before the first channel call
    discovery_s: float = 0.0
    reads_s: float = 0.0
    extrapolated: bool = False


def judge(report: ReconcileReport, planted: Mapping[str, int], stock: Mapping[str, int]
          ) -> tuple[bool, list[str]]:
    found = {(m.sku, m.expected, m.actual) for m in report.mismatches}
    wanted = {(sku, stock[sku], value) for sku, value in planted.items()}
    problems = [f"error: {report.error}"] if report.error else []
    if found != wanted:
        problems.append(f"{len(found - wanted)} unexpected, {len(wanted - found)} not found")
    for name, value in (("missing", report.missing), ("untracked", report.untracked),
                        ("status mismatches", report.status_mismatches)):
        if value:
            problems.append(f"{len(value)} {name}")
    if report.compared != len(stock):
        problems.append(f"compared {report.compared} of {len(stock)}")
    return found == wanted, problems


def measure(svc: Stocksync, channel: Channel, sim_url: str, phase: str, args: argparse.Namespace,
            stock: Mapping[str, int], planted: Mapping[str, int], console: Console) -> Row:
    httpx.delete(f"{sim_url}/_sim/requests").raise_for_status()
    report, wall, timing = asyncio.run(run_reconcile(svc, channel, phase, console))
    calls: list[dict[str, Any]] = httpx.get(f"{sim_url}/_sim/requests").json()
    ok = [c for c in calls if c["outcome"] in ("ok", "user_errors")]
    actual = sum(c["actual_cost"] or 0 for c in ok)
    by_field: dict[str, int] = {}
    for c in calls:
        by_field[str(c["root_field"])] = by_field.get(str(c["root_field"]), 0) + 1
    exact, problems = judge(report, planted, stock)
    floor = floor_seconds(actual, args.bucket, args.restore_rate)
    ledger = (timing.first_call or timing.started) - timing.started
    return Row(PHASES[phase], len(stock), len(calls), by_field,
               sum(c["requested_cost"] or 0 for c in calls), actual, args.restore_rate,
               args.bucket, round(floor, 2), round(wall, 2),
               round(wall / floor, 3) if floor else None,
               sum(c["outcome"] == "throttled" for c in calls),
               sum(c["outcome"] not in ("ok", "user_errors", "throttled") for c in calls),
               len(report.mismatches), len(planted), exact, problems, round(ledger, 2),
               round(timing.discovery_s, 2), round(timing.reads_s, 2))


def extrapolate(row: Row, target: int) -> Row:
    """The floor at `target` from the cost model; wall = floor + the measured overhead
    (wall - floor) scaled by SKUs. Counts scale by SKUs."""
    scale = target / row.skus
    discovery = row.phase == PHASES["discovery"]
    cost = planned_cost(target, discovery)
    floor = floor_seconds(cost, row.bucket, row.restore_rate)
    wall = floor + (row.wall_s - row.floor_s) * scale
    pages = math.ceil(target / MAX_PAGE)
    return Row(row.phase, target, pages * (2 if discovery else 1), {},
               round(row.requested_cost * scale), cost, row.restore_rate, row.bucket,
               round(floor, 2), round(wall, 2), round(wall / floor, 3) if floor else None,
               0, 0, 0, round(target * DRIFT_SHARE), False, [], extrapolated=True)


# ---- report ----------------------------------------------------------------------------------


def print_report(rows: Sequence[Row], console: Console) -> None:
    table = Table(title="reconcile: full dry run of one Shopify location vs the rate-limit floor")
    for col in ("phase", "SKUs", "calls", "cost points", "restore rate", "bucket", "floor s",
                "wall s", "wall/floor", "throttled", "mismatches found/planted"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for r in rows:
        phase = f"{r.phase} (extrapolated)" if r.extrapolated else r.phase
        found = "-" if r.extrapolated else (
            f"{r.found}/{r.planted}" + ("" if r.exact and not r.problems else " ✗"))
        table.add_row(phase, f"{r.skus:,}", f"{r.calls:,}", f"{r.actual_cost:,}",
                      f"{r.restore_rate:g}/s", f"{r.bucket:g}", f"{r.floor_s:,.1f}",
                      f"{r.wall_s:,.1f}", "-" if r.wall_over_floor is None
                      else f"{r.wall_over_floor:.3f}", "-" if r.extrapolated
                      else str(r.throttled), found)
    console.print(table)
    for r in rows:
        if r.extrapolated:
            continue
        console.print(f"{r.phase}: calls {r.calls_by_field}, requested {r.requested_cost:,} / "
                      f"actual {r.actual_cost:,} points; ledger {r.ledger_s:.2f} s, discovery "
                      f"{r.discovery_s:.1f} s, level reads {r.reads_s:.1f} s, errors {r.errors}")
        for problem in r.problems:
            console.print(f"[red]{r.phase}: {problem}[/red]")


def save(rows: Sequence[Row], args: argparse.Namespace, run_skus: int, started: datetime,
         seed_s: dict[str, float]) -> Path:
    return common.save("reconcile", started, {
        "skus": args.skus, "run_skus": run_skus, "restore_rate": args.restore_rate,
        "bucket": args.bucket, "phases": args.phases, "seed": args.seed,
        "budget_seconds": args.budget_seconds, "drift_share": DRIFT_SHARE,
    }, common.environment(), seed_seconds=seed_s, rows=[asdict(r) for r in rows])


# ---- entry point -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("reconcile", __doc__, database_url=False)
    p.add_argument("--skus", type=int, default=30_000, help="catalogue size to report")
    p.add_argument("--restore-rate", type=float, default=STANDARD_RESTORE_RATE,
                   help="cost points restored per second (Standard plan: 100)")
    p.add_argument("--bucket", type=float, default=DEFAULT_BUCKET,
                   help="bucket size, maximumAvailable")
    p.add_argument("--phases", choices=("both", "discovery", "known"), default="both")
    p.add_argument("--budget-seconds", type=float, default=BUDGET_SECONDS,
                   help="largest total floor to run; beyond it run fewer SKUs and extrapolate")
    p.add_argument("--seed", type=int, default=7, help="random seed for stock and drift")
    args = p.parse_args(argv)
    if args.skus < 100 or args.restore_rate <= 0 or args.bucket < 3 * MAX_PAGE:
        p.error("--skus >= 100, --restore-rate > 0, --bucket >= 750 (one page of levels)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    phases = ["discovery", "known"] if args.phases == "both" else [args.phases]
    run_skus = runnable_skus(args.skus, phases, args.bucket, args.restore_rate,
                             args.budget_seconds)
    floors = {p: floor_seconds(planned_cost(args.skus, p == "discovery"), args.bucket,
                               args.restore_rate) for p in phases}
    console.print(f"floor at {args.skus:,} SKUs, {args.restore_rate:g} pts/s, bucket "
                  f"{args.bucket:g}: " + ", ".join(f"{PHASES[p]} {s:,.0f} s"
                                                   for p, s in floors.items()))
    if run_skus != args.skus:
        console.print(f"[yellow]over the {args.budget_seconds:g} s budget: running "
                      f"{run_skus:,} SKUs and extrapolating to {args.skus:,}[/yellow]")
    rng = random.Random(args.seed)
    stock = make_stock(run_skus, rng)
    planted = plant_drift(stock, rng)
    rows: list[Row] = []
    seed_s: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as workdir:
        svc = build_service(Settings(database_url=f"sqlite:///{Path(workdir) / 'bench.db'}",
                                     secret_key=Fernet.generate_key().decode(),
                                     reconcile_minutes=0, run_workers=False))
        try:
            began = time.perf_counter()
            tenant_id = seed_stocksync(svc, stock)
            seed_s["stocksync"] = round(time.perf_counter() - began, 2)
            app = shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN,
                                               maximum_available=args.bucket,
                                               restore_rate=args.restore_rate))
            sim: ShopifySimState = app.state.sim
            began = time.perf_counter()
            mapping = seed_shop(sim, {**stock, **planted})
            seed_s["shopify"] = round(time.perf_counter() - began, 2)
            console.print(f"seeded {run_skus:,} SKUs ({len(planted)} planted wrong): "
                          f"stocksync {seed_s['stocksync']:.1f} s, simulator "
                          f"{seed_s['shopify']:.1f} s")
            with ServerThread(app) as shop:
                channel = add_channel(svc, tenant_id, shop.url, sim.default_location_id)
                for i, phase in enumerate(phases):
                    if i:  # every phase starts with a full bucket, as the floor assumes
                        time.sleep(args.bucket / args.restore_rate + REFILL_MARGIN_S)
                    if phase == "known":
                        began = time.perf_counter()
                        store_mapping(svc, tenant_id, mapping)
                        seed_s["mapping"] = round(time.perf_counter() - began, 2)
                    console.print(f"{PHASES[phase]}: reconcile dry run of {run_skus:,} SKUs …")
                    rows.append(measure(svc, channel, shop.url, phase, args, stock, planted,
                                        console))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: partial results")
            print_report(rows, console)
            return 130
        finally:
            svc.engine.dispose()
    if run_skus != args.skus:
        rows += [extrapolate(r, args.skus) for r in list(rows)]
    print_report(rows, console)
    console.print(f"results: {save(rows, args, run_skus, started, seed_s)}")
    return 1 if any(r.problems or r.throttled for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
