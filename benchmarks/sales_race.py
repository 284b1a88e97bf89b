"""Sales race: five platforms and the API selling the same 100 SKUs at once.

The real app (`create_app()` under uvicorn in a subprocess, workers on, see
`benchmarks.propagation`) keeps one location on Shopify, WooCommerce, Square, eBay and
Amazon simulators (in this process), each wired the way the platform tells stocksync about
its orders (benchmarks/sales_race_platforms.py). Everything lives in a throwaway SQLite
file or PostgreSQL schema that is removed at the end, also on Ctrl-C or SIGTERM.

    .venv/bin/python -m benchmarks.sales_race [--seconds 60] [--rate 20] [--db sqlite]

1. 100 SKUs; most hold three times the units the run is expected to sell of each, SCARCE
   of them only a third, so those sell out and the last units race. Channels created over
   the API (order polls at each connector's default unless --poll-seconds); wait until all
   five show the stock.
2. For --seconds, open-loop sales at --rate in total, of one unit of a random SKU, each at
   a random one of six places: the five platforms (an order at the simulator, which refuses
   what it does not show) and `POST /v1/movements` (refused by the ledger when out).
3. Wait (at most --converge-seconds) until the inbox is drained, every order a platform
   took is in the ledger (as a sale, or as a conflict when the ledger had no units left)
   and every platform shows `channel_quantity(ledger)` for every SKU.

Reported per channel kind: sales placed, refused at the platform, counted in the ledger,
oversold (units a platform sold that the ledger refused: `conflict.detected`, per
channel), the sale -> ledger latency (order request -> the sale event's `recorded_at`, and
the `stocksync_channel_sale_delay_seconds` histogram), the ledger -> channel latency
(`stocksync_propagation_seconds`), SKUs shown wrong after convergence and the rate-limit
violations each simulator recorded. Then the ledger check: on-hand = receipts - counted
sales (+ adjustments, which must net to 0 once every order is counted).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from rich.console import Console

from benchmarks import common
from benchmarks.common import RESULTS
from benchmarks.marketplaces import channel_skus
from benchmarks.propagation import (
    LOCATION,
    database,
    seed,
    stocksync_server,
)
from benchmarks.sales_race_ledger import (
    PROPAGATION_METRIC,
    SALE_DELAY_METRIC,
    Ledger,
    deliveries,
    events,
    histograms,
    inbox_summary,
    levels,
    read_ledger,
)
from benchmarks.sales_race_platforms import Platform, add_channels, place, platforms
from benchmarks.sales_race_report import Race, print_report, summarize
from benchmarks.sales_race_watch import RaiseWatcher

SKUS = 100
SCARCE = 10  # SKUs stocked below their expected demand
SELLERS = 8  # open loop: enough senders that a slow answer never delays the next sale
SYNC_SECONDS = 180.0
CHECK_SECONDS = 1.0  # convergence is checked this often
DIAGNOSED = 3  # SKUs per channel explained when a channel ends wrong
Json = dict[str, Any]
TRAIL_TYPES = ("stock.received", "stock.sold", "stock.adjusted", "conflict.detected")


@dataclass(frozen=True, slots=True)
class Sale:
    source: str  # a channel code, or "api"
    kind: str
    sku: str
    planned: float  # seconds after the start it was due
    at: datetime  # wall clock just before the order request
    status: int  # 201 taken; 409 refused; 0 no answer
    order_id: str | None


@dataclass(slots=True)
class Load:
    api_url: str
    api_key: str
    skus: Sequence[str]
    places: Sequence[Platform | None]  # None: the API
    rate: float
    seconds: float
    start: float
    counter: Iterator[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    sales: list[Sale] = field(default_factory=list)

    def take(self) -> float | None:
        with self.lock:
            n = next(self.counter)
        return n / self.rate if n < self.rate * self.seconds else None


def _seller(load: Load, rng: random.Random) -> None:
    with httpx.Client(timeout=30) as sims, httpx.Client(
            base_url=load.api_url, timeout=30,
            headers={"Authorization": f"Bearer {load.api_key}"}) as api:
        while not load.stop.is_set() and (offset := load.take()) is not None:
            if (delay := load.start + offset - time.perf_counter()) > 0:
                time.sleep(delay)
            where, sku = rng.choice(load.places), rng.choice(load.skus)
            at, status, order_id = datetime.now(UTC), 0, None
            with suppress(httpx.HTTPError, ValueError, KeyError):
                if where is None:
                    status = api.post("/v1/movements", json={
                        "type": "sale", "sku": sku, "location": LOCATION,
                        "quantity": 1}).status_code
                else:
                    status, order_id = place(sims, where, sku, 1)
            load.sales.append(Sale(where.code if where else "api",
                                   where.kind if where else "api", sku, offset, at, status,
                                   order_id))


def sell(load: Load) -> list[Sale]:
    workers = [threading.Thread(target=_seller, args=(load, random.Random(7919 * i + 1)),
                                daemon=True, name=f"seller-{i}") for i in range(SELLERS)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.05)
    finally:
        load.stop.set()
        for worker in workers:
            worker.join(30)
    return sorted(load.sales, key=lambda s: s.planned)


def stock_plan(skus: Sequence[str], sales: float, rng: random.Random) -> dict[str, int]:
    """Three times the expected demand per SKU, SCARCE random SKUs a third of it (>= 1)."""
    demand = sales / len(skus)
    scarce = set(rng.sample(list(skus), min(SCARCE, len(skus))))
    return {sku: max(1, round(demand / 3)) if sku in scarce else max(5, round(3 * demand))
            for sku in skus}


# ---- waiting -------------------------------------------------------------------------------


@dataclass(slots=True)
class Progress:
    """What is still missing; all zero = converged."""

    pending: int = -1  # deliveries in the inbox not applied yet
    unaccounted: int = -1  # platform orders neither sold nor refused in the ledger
    wrong: dict[str, int] = field(default_factory=dict)  # channel -> SKUs shown wrong

    def done(self) -> bool:
        return self.pending == 0 and self.unaccounted == 0 and not any(self.wrong.values())


def wrong_skus(shown: dict[str, int], stock: dict[str, Json]) -> list[str]:
    """SKUs the channel shows differently from channel_quantity(ledger): the channels'
    rules are the defaults (one location, no buffer, 100 %, no cap) = max(available, 0)."""
    return [sku for sku, item in stock.items()
            if shown.get(sku) != max(int(item["available"]), 0)]


def progress(api: httpx.Client, http: httpx.Client, found: Sequence[Platform],
             skus: Sequence[str], taken: Sequence[Sale]) -> tuple[Progress, Ledger]:
    ledger = read_ledger(api)
    pending = len(deliveries(api, "pending"))
    stock = levels(api, skus)
    wrong = {p.code: len(wrong_skus(p.state(http), stock)) for p in found}
    unaccounted = sum(not ledger.accounted(s.kind, s.order_id) for s in taken
                      if s.order_id is not None)
    return Progress(pending, unaccounted, wrong), ledger


def wait_converged(api: httpx.Client, found: Sequence[Platform], skus: Sequence[str],
                   taken: Sequence[Sale], seconds: float, console: Console
                   ) -> tuple[float | None, Progress]:
    """Seconds from the end of the load until converged (None: not within `seconds`)."""
    started = time.perf_counter()
    last_said = started
    state = Progress()
    with httpx.Client(timeout=30) as http:
        while time.perf_counter() - started < seconds:
            with suppress(httpx.HTTPError, KeyError, ValueError):
                state = progress(api, http, found, skus, taken)[0]
                if state.done():
                    return time.perf_counter() - started, state
            if time.perf_counter() - last_said > 15:
                console.print(f"  … {time.perf_counter() - started:.0f} s: {state}")
                last_said = time.perf_counter()
            time.sleep(CHECK_SECONDS)
    return None, state


def diagnose(api: httpx.Client, http: httpx.Client, p: Platform, wrong: Sequence[str],
             shown: dict[str, int], stock: dict[str, Json], sales: Sequence[Sale],
             trail: dict[str, Any]) -> str:
    """Why a channel ended wrong: what it shows, the ledger, stocksync's row for it; the
    SKU's whole story (ledger events, our sales, the platform's logged calls) goes into
    `trail` for the debug file."""
    rows = channel_skus(api, p.code)
    logged = http.get(p.sim.url + "/_sim/requests").json()
    parts = []
    for sku in wrong:
        row = {k: v for k, v in rows.get(sku, {}).items() if v not in (None, [], {})}
        ids = [sku, *map(str, (rows.get(sku, {}).get("external_ids") or {}).values())]
        trail.setdefault(sku, {"ledger": [e for e in events(api, TRAIL_TYPES)
                                          if e.get("sku") == sku],
                               "sales": [asdict(s) for s in sales if s.sku == sku]})
        trail[sku][p.code] = {"shown": shown.get(sku), "row": row, "calls": [
            r for r in logged if any(i in json.dumps(r) for i in ids)]}
        if len(parts) < DIAGNOSED:
            parts.append(f"{sku} shows {shown.get(sku)}, ledger available "
                         f"{stock[sku]['available']}, row {row}")
    return f"{p.code}: " + " | ".join(parts)


def wait_synced(found: Sequence[Platform], stock: dict[str, int]) -> None:
    deadline = time.monotonic() + SYNC_SECONDS
    with httpx.Client(timeout=30) as http:
        while True:
            late = {p.code: sum(p.state(http).get(sku) != n for sku, n in stock.items())
                    for p in found}
            if not any(late.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"initial sync incomplete after {SYNC_SECONDS:g} s, SKUs "
                                   f"still wrong: {late}")
            time.sleep(CHECK_SECONDS)


# ---- one run -------------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> Race:
    rng = random.Random(args.seed)
    skus = [f"SR-{i:03d}" for i in range(SKUS)]
    stock = stock_plan(skus, args.rate * args.seconds, rng)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sales-race-")))
        settings = stack.enter_context(database(args.db, args.database_url, workdir,
                                                Fernet.generate_key().decode()))
        console.print(f"[{args.db}] seeding {len(skus)} SKUs, {sum(stock.values()):,} units …")
        tenant = seed(settings, stock)
        found = stack.enter_context(platforms(skus))
        log_path = workdir / "server.log"
        server_log = stack.enter_context(log_path.open("w"))
        base_url = stack.enter_context(stocksync_server(settings, server_log))
        api = stack.enter_context(httpx.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {tenant.api_key}"}))
        add_channels(api, base_url, found, args.poll_seconds)
        synced_from = time.perf_counter()
        wait_synced(found, stock)
        console.print(f"[{args.db}] initial sync to five channels: "
                      f"{time.perf_counter() - synced_from:.1f} s; selling at {args.rate:g}/s "
                      f"for {args.seconds:g} s …")
        load = Load(base_url, tenant.api_key, skus, [*found, None], args.rate, args.seconds,
                    time.perf_counter() + 0.2)
        load_started = time.perf_counter()
        with RaiseWatcher(found) as watcher:
            sales = sell(load)
            load_s = time.perf_counter() - load_started
            taken = [s for s in sales if s.status == 201]
            console.print(f"[{args.db}] {len(taken):,}/{len(sales):,} sales taken in "
                          f"{load_s:.1f} s; waiting for convergence …")
            converge_s, state = wait_converged(api, found, skus, taken, args.converge_seconds,
                                               console)
        with httpx.Client(timeout=30) as http:
            ledger = read_ledger(api)
            final = levels(api, skus)
            shown = {p.code: p.state(http) for p in found}
            wrong = {p.code: wrong_skus(shown[p.code], final) for p in found}
            race = summarize(
                found, sales, stock, ledger, final, deliveries(api, "failed"),
                histograms(base_url, SALE_DELAY_METRIC, "kind"),
                histograms(base_url, PROPAGATION_METRIC, "channel", tenant.id),
                wrong,
                {p.code: p.violations(http) for p in found},
                poll_seconds=args.poll_seconds, load_s=load_s, converge_s=converge_s,
                state=asdict(state))
            race.notes += [watcher.note(), *inbox_summary(api)]
            trail: dict[str, Any] = {}
            race.notes += [diagnose(api, http, p, wrong[p.code], shown[p.code], final, sales,
                                    trail) for p in found if wrong[p.code]]
        server_log.flush()
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS / f"sales_race-{stamp}.server.log").write_text(log_path.read_text())
        if trail:
            debug = RESULTS / f"sales_race-{stamp}.wrong.json"
            debug.write_text(json.dumps(trail, indent=1, default=str))
            race.notes.append(f"the wrong SKUs' story: {debug}")
        failures = [line.strip()[:300] for line in log_path.read_text().splitlines()
                    if "Traceback" in line or "_crashed" in line or "worker_failed" in line]
        if failures:
            race.notes.append(f"server logged {len(failures)} crashes/tracebacks, first: "
                              f"{failures[0]}")
    return race


def save(race: Race | None, notes: Sequence[str], args: argparse.Namespace,
         started: datetime, env: dict[str, object]) -> Path:
    return common.save("sales_race", started, {
        **{k: v for k, v in vars(args).items() if k != "database_url"},
        "skus": SKUS, "scarce": SCARCE, "sellers": SELLERS,
    }, env, load_average_at_end=[round(x, 2) for x in os.getloadavg()],
        race=asdict(race) if race else None, notes=list(notes))


# ---- entry point ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("sales_race", __doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="how long sales are placed")
    p.add_argument("--rate", type=float, default=20.0, help="sales per second, all places")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--poll-seconds", type=float, default=None,
                   help="order_poll_seconds of every channel (default: each connector's)")
    p.add_argument("--converge-seconds", type=float, default=300.0,
                   help="give up waiting for convergence after this long")
    p.add_argument("--seed", type=int, default=9, help="which SKUs are scarce, and stock")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0:
        p.error("--seconds and --rate must be > 0")
    if args.poll_seconds is not None and not (args.poll_seconds == 0
                                              or 1 <= args.poll_seconds <= 86_400):
        p.error("--poll-seconds must be 0 (off) or 1 to 86400")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    env = common.environment(args.database_url if args.db == "postgres" else None)
    race: Race | None = None
    notes: list[str] = []
    try:
        race = run(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: everything removed")
        return 130
    except Exception as exc:  # reported and saved: the run could not finish
        notes.append(f"failed: {type(exc).__name__}: {exc}"[:800])
    print_report(race, notes, console)
    console.print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"({os.cpu_count()} CPUs)")
    console.print(f"results: {save(race, notes, args, started, env)}")
    return 0 if race is not None and race.passed() else 1


if __name__ == "__main__":
    sys.exit(main())
