"""Marketplaces: one burst of stock events, six channels, what each one cost and how long it
took to settle.

The real app (`create_app()` under uvicorn in a subprocess, workers on, see
`benchmarks.propagation`) pushes one location to six channels, each against its simulator
in this process: Shopify, generic HTTP, eBay, Amazon, WooCommerce and Square. Everything
lives in a throwaway SQLite file or PostgreSQL schema that is removed at the end, also on
Ctrl-C or SIGTERM.

    .venv/bin/python -m benchmarks.marketplaces [--events 10000] [--skus 200] [--db sqlite]

1. --skus SKUs with STOCK units each, seeded through the handlers; channels created over the
   API; wait until all six show STOCK everywhere (the initial sync).
2. Burst: --events stock movements on those SKUs, 85 % sales and 15 % receipts, sent as fast
   as the API takes them from 16 threads. STOCK is large enough that no sale is refused.
3. Wait (at most CONVERGE_SECONDS) until every channel shows the ledger's final available
   (`GET /v1/stock`). eBay is settled once it shows the ledger value for every SKU that went
   down relative to what eBay shows; a SKU that went up may be held back by the daily
   revision budget (stocksync must then want the ledger value and have the shown value
   acknowledged): correct behaviour, reported as "increases held", not as an error.

Per channel: the platform's stock-write calls the simulator logged from the start of the
burst to the end of the wait (`/_sim/requests`, polled so its ring buffer cannot wrap
unseen; Amazon patches and feeds apart), events per call, seconds from the last accepted
event to the first poll (every POLL_SECONDS) that saw the channel settled, and the
simulator's `/_sim/violations` (Shopify has none: its THROTTLED answers stand in).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from benchmarks import common
from benchmarks.common import metrics_text, print_notes
from benchmarks.propagation import (
    LOCATION,
    database,
    ledger_available,
    seed,
    stocksync_server,
)
from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

Json = dict[str, Any]  # simulator admin answers, as JSON
STOCK = 10_000  # per SKU: the burst sells ~45 units of each on average, none is refused
SALE_SHARE = 0.85
RECEIPT_UNITS = (1, 4)  # a receipt brings this many units (uniform); a sale takes 1
SENDER_THREADS = 16
AMAZON_FEED_DELAY_S = 0.5
SQUARE_LOCATION = "LSTOCKSYNC001"
SHOPIFY_TOKEN = "shpat_marketplaces_bench_token"
GENERIC_SECRET = "marketplaces-bench-secret"
SYNC_SECONDS = 120.0
CONVERGE_SECONDS = 180.0
SETTLE_SECONDS = 3.0  # after the last channel settled: writes still in flight get logged
POLL_SECONDS = 0.25  # channel states: the resolution of "converge s"
LOG_POLL_SECONDS = 15.0  # request logs: a 5,000-entry ring cannot wrap in between
SKU_PAGE = 1000  # GET /v1/channels/{code}/skus takes at most 1,000 rows
ID_SEGMENT = re.compile(r"/(MK-\d+|\d+|[0-9A-Z]{10,})(?=/|$)")  # SKUs, offer and item ids
DRIFT_METRIC = "stocksync_channel_drift_ratio"  # set by each reconciliation


# ---- the six channels and what their simulators log ------------------------------------------


def shopify_write(r: Json) -> tuple[str, int] | None:
    if r.get("kind") != "mutation" or r.get("root_field") != "inventorySetQuantities":
        return None
    quantities = ((r.get("variables") or {}).get("input") or {}).get("quantities") or []
    return "write", len(quantities)


def generic_write(r: Json) -> tuple[str, int] | None:
    return ("write", len(r.get("skus") or [])) if r.get("method") == "POST" else None


def ebay_write(r: Json) -> tuple[str, int] | None:
    path = str(r.get("path", ""))
    if path.endswith("/bulk_update_price_quantity"):
        return "write", len((r.get("body") or {}).get("requests") or r.get("skus") or [])
    if r.get("method") == "PUT" and "/inventory_item/" in path:
        return "write", 1
    return None


def amazon_write(r: Json) -> tuple[str, int] | None:
    operation = r.get("operation")
    if operation == "patchListingsItem":
        return "patch", 1
    if operation == "createFeed":
        return "feed", 0  # its SKUs are in the uploaded document, not in the log
    return None


def woo_write(r: Json) -> tuple[str, int] | None:
    path = str(r.get("path", ""))
    if r.get("method") not in ("POST", "PUT", "PATCH") or "/products" not in path:
        return None
    body = r.get("body")
    if path.endswith("/batch") and isinstance(body, dict):
        return "write", len(body.get("update") or [])
    return "write", 1


def square_write(r: Json) -> tuple[str, int] | None:
    if r.get("path") != "/v2/inventory/changes/batch-create":
        return None
    return "write", int(r.get("changes") or 0)


def shopify_shown(location: str, state: Json) -> dict[str, int]:
    return {sku: at[location] for sku, at in state["available"].items() if location in at}


def generic_shown(state: Json) -> dict[str, int]:
    return dict(state["quantities"])


def ebay_shown(state: Json) -> dict[str, int]:
    return {sku: item["quantity"] for sku, item in state["items"].items()}


def amazon_shown(state: Json) -> dict[str, int]:
    return {sku: q for sku, q in state["quantities"].items() if q is not None}


def woo_shown(state: Json) -> dict[str, int]:
    return {sku: q for sku, q in state["quantities"].items() if q is not None}


def square_shown(state: Json) -> dict[str, int]:
    return {sku: at[SQUARE_LOCATION] for sku, at in state["quantities"].items()
            if isinstance(at.get(SQUARE_LOCATION), int)}


@dataclass(frozen=True, slots=True)
class Market:
    code: str
    kind: str
    sim: ServerThread
    settings: dict[str, str]
    credentials: dict[str, str]
    shown: Callable[[Json], dict[str, int]]  # /_sim/state -> sku -> quantity shown
    write: Callable[[Json], tuple[str, int] | None]  # logged request -> (write kind, SKUs)
    violations: bool  # has /_sim/violations

    def state(self, http: httpx.Client) -> dict[str, int]:
        return self.shown(http.get(self.sim.url + "/_sim/state").json())


@contextmanager
def markets(skus: Sequence[str]) -> Iterator[list[Market]]:
    """The six simulators, each holding every SKU at 0, as tests/e2e starts them."""
    with ExitStack() as stack:
        def serve(app: Any) -> ServerThread:
            return stack.enter_context(ServerThread(app))

        shop = serve(shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN)))
        portal = serve(generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET)))
        sims = {"ebay": serve(ebay.create_app()),
                "amazon": serve(amazon.create_app(
                    AmazonSimConfig(feed_processing_delay_s=AMAZON_FEED_DELAY_S))),
                "woo": serve(woocommerce.create_app()), "square": serve(square.create_app())}
        with httpx.Client(timeout=30) as http:
            location = str(http.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
            for sku in skus:
                http.post(shop.url + "/_sim/products",
                          json={"sku": sku, "quantities": {location: 0}}).raise_for_status()
                for sim in sims.values():
                    http.post(sim.url + "/_sim/items",
                              json={"sku": sku, "quantity": 0}).raise_for_status()
        amazon_url = sims["amazon"].url
        yield [
            Market("shop", "shopify", shop, {"shop_url": shop.url, "location_id": location},
                   {"access_token": SHOPIFY_TOKEN}, partial(shopify_shown, location),
                   shopify_write, False),
            Market("portal", "generic_http", portal, {"url": portal.url + "/inventory"},
                   {"secret": GENERIC_SECRET}, generic_shown, generic_write, False),
            Market("ebay-us", "ebay", sims["ebay"], {"api_url": sims["ebay"].url},
                   {"client_id": "stocksync-sim-app", "client_secret": "stocksync-sim-cert",
                    "refresh_token": "v^1.1#i^1#stocksync-sim-refresh"},
                   ebay_shown, ebay_write, True),
            Market("amazon-us", "amazon", sims["amazon"],
                   {"endpoint": amazon_url, "token_url": amazon_url + "/auth/o2/token",
                    "seller_id": "A1STOCKSYNCSIM", "marketplace_id": "ATVPDKIKX0DER"},
                   {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
                    "lwa_client_secret": "stocksync-sim-client-secret",
                    "refresh_token": "Atzr|stocksync-sim-refresh-token"},
                   amazon_shown, amazon_write, True),
            Market("woo", "woocommerce", sims["woo"], {"store_url": sims["woo"].url},
                   {"consumer_key": "ck_stocksync_simulator",
                    "consumer_secret": "cs_stocksync_simulator"}, woo_shown, woo_write, True),
            Market("square", "square", sims["square"],
                   {"base_url": sims["square"].url, "location_id": SQUARE_LOCATION},
                   {"access_token": "EAAAEstocksyncSimulatorAccessToken"},
                   square_shown, square_write, True),
        ]


def add_channels(http: httpx.Client, found: Sequence[Market]) -> None:
    for m in found:
        r = http.post("/v1/channels", json={
            "code": m.code, "kind": m.kind, "name": f"{m.kind} (simulator)",
            "locations": [LOCATION], "settings": m.settings, "credentials": m.credentials})
        if r.status_code != 201:
            raise RuntimeError(f"creating channel {m.code}: {r.status_code} {r.text}")


def endpoint(r: Json) -> str:
    """A logged call without its ids: Shopify's root field, Amazon's operation, else the
    method and path (the generic receiver logs no path)."""
    if "root_field" in r:
        return f"{r.get('kind')} {r.get('root_field')}"
    if "operation" in r:
        return str(r["operation"])
    return f"{r.get('method')} {ID_SEGMENT.sub('/{id}', str(r.get('path', '')))}".strip()


# ---- request logs ------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestLog:
    """What one simulator logged after `mark` (a `seq`), merged across polls."""

    url: str
    mark: int = 0
    seen: dict[int, Json] = field(default_factory=dict)
    wrapped: bool = False  # an entry left the ring buffer before a poll saw it

    def poll(self, http: httpx.Client) -> None:
        records = http.get(self.url + "/_sim/requests").json()
        newer = [r for r in records if r["seq"] > self.mark]
        last = max(self.seen, default=self.mark)
        if newer and min(r["seq"] for r in newer) > last + 1:
            self.wrapped = True
        self.seen.update((r["seq"], r) for r in newer)

    def start(self, http: httpx.Client) -> None:
        self.mark = max((r["seq"] for r in http.get(self.url + "/_sim/requests").json()),
                        default=0)
        self.seen.clear()


@contextmanager
def polling(logs: Sequence[RequestLog]) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.wait(LOG_POLL_SECONDS):
                for log in logs:
                    with suppress(httpx.HTTPError):
                        log.poll(http)

    thread = threading.Thread(target=run, daemon=True, name="request-logs")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


# ---- the burst -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    sku: str
    type: str  # sale | receive
    quantity: int


@dataclass(frozen=True, slots=True)
class Sent:
    move: Move
    answered: float  # perf_counter()
    status: int  # 0: no answer


def plan(skus: Sequence[str], events: int, rng: random.Random) -> list[Move]:
    return [Move(rng.choice(skus), "sale", 1) if rng.random() < SALE_SHARE
            else Move(rng.choice(skus), "receive", rng.randint(*RECEIPT_UNITS))
            for _ in range(events)]


def send_all(base_url: str, api_key: str, moves: Sequence[Move]) -> list[Sent]:
    todo = iter(moves)
    lock = threading.Lock()
    stop = threading.Event()
    sent: list[Sent] = []

    def sender() -> None:
        with httpx.Client(base_url=base_url, timeout=30,
                          headers={"Authorization": f"Bearer {api_key}"}) as http:
            while not stop.is_set():
                with lock:
                    move = next(todo, None)
                if move is None:
                    return
                status = 0
                with suppress(httpx.HTTPError):
                    status = http.post("/v1/movements", json={
                        "type": move.type, "sku": move.sku, "location": LOCATION,
                        "quantity": move.quantity}).status_code
                sent.append(Sent(move, time.perf_counter(), status))

    threads = [threading.Thread(target=sender, daemon=True, name=f"sender-{i}")
               for i in range(SENDER_THREADS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    return sent


# ---- settling --------------------------------------------------------------------------------


def channel_skus(http: httpx.Client, code: str) -> dict[str, Json]:
    rows: dict[str, Json] = {}
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": SKU_PAGE, **({"after": after} if after else {})}
        page = http.get(f"/v1/channels/{code}/skus", params=params).json()
        rows.update((r["sku"], r) for r in page)
        if len(page) < SKU_PAGE:
            return rows
        after = page[-1]["sku"]


def unsettled(m: Market, shown: dict[str, int], ledger: dict[str, int],
              api: httpx.Client) -> tuple[int, int]:
    """(SKUs not yet right, increases held back). Only eBay may hold an increase."""
    wrong = [sku for sku, value in ledger.items() if shown.get(sku) != value]
    if m.kind != "ebay" or not wrong:
        return len(wrong), 0
    rows = channel_skus(api, m.code)
    held = [sku for sku in wrong
            if (got := shown.get(sku)) is not None and got < ledger[sku]
            and rows.get(sku, {}).get("wanted") == ledger[sku]
            and rows.get(sku, {}).get("pushed") == got]
    return len(wrong) - len(held), len(held)


def wait_settled(found: Sequence[Market], ledger: dict[str, int], api: httpx.Client,
                 seconds: float) -> dict[str, float]:
    """perf_counter() of the first poll that saw each channel settled."""
    settled: dict[str, float] = {}
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30) as http:
        while len(settled) < len(found) and time.monotonic() < deadline:
            for m in found:
                if m.code not in settled:
                    with suppress(httpx.HTTPError, KeyError, ValueError):
                        if unsettled(m, m.state(http), ledger, api)[0] == 0:
                            settled[m.code] = time.perf_counter()
            time.sleep(POLL_SECONDS)
    return settled


# ---- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str
    kind: str
    write_calls: int
    amazon_patches: int | None
    amazon_feeds: int | None
    skus_written: int  # SKU values in those calls (feeds: not counted)
    failed_writes: int  # write calls answered >= 400
    other_calls: int  # reads, token grants, feed polls ...
    events_per_call: float | None
    converge_s: float | None  # None: not settled within CONVERGE_SECONDS
    wrong_at_end: int
    violations: int | None  # None: the simulator has no /_sim/violations
    violation_report: Json | None
    log_wrapped: bool
    calls: dict[str, int]  # endpoint -> calls, writes and the rest
    reconcile_drift: float | None  # the last scheduled reconciliation's; None: none ran
    increases_held: int | None = None  # eBay
    min_revisions_left: int | None = None  # eBay, stocksync's count
    sim_max_revisions: int | None = None  # eBay, the simulator's busiest listing today


@dataclass(frozen=True, slots=True)
class BurstInfo:
    events: int
    accepted: int
    refused: int
    seconds: float
    events_per_s: float
    sales: int
    receipts: int
    skus_last_receipt: int  # SKUs whose last accepted event was a receipt


def drift_ratios(base_url: str, tenant_id: str) -> dict[str, float]:
    """stocksync's own gauge, by channel code: set only when a reconciliation ran."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text(base_url)):
        if family.name == DRIFT_METRIC:
            found.update((s.labels["channel"], s.value) for s in family.samples
                         if s.labels.get("tenant") == tenant_id)
    return found


def summarize(m: Market, log: RequestLog, events: int, settled: float | None,
              last_event: float, ledger: dict[str, int], drift: dict[str, float],
              http: httpx.Client, api: httpx.Client) -> ChannelResult:
    writes = [(r, w) for r in log.seen.values() if (w := m.write(r)) is not None]
    kinds = [w[0] for _, w in writes]
    failed = sum(int(r.get("status") or 0) >= 400 or r.get("outcome") in (
        "throttled", "rate_limited", "fault", "error") for r, _ in writes)
    wrong, held = unsettled(m, m.state(http), ledger, api)
    report: Json | None = None
    count: int | None = None
    if m.violations:
        report = http.get(m.sim.url + "/_sim/violations").json()
        count = int(report["count"])
    elif m.kind == "shopify":  # no violations endpoint: THROTTLED answers are the breach
        throttled = [r for r in log.seen.values() if r.get("outcome") == "throttled"]
        count = len(throttled)
        report = {"count": count, "throttled": [
            {k: r.get(k) for k in ("seq", "at", "kind", "root_field", "requested_cost",
                                   "codes")} for r in throttled]}
    extra: Json = {}
    if m.kind == "ebay":
        rows = channel_skus(api, m.code).values()
        revisions = http.get(m.sim.url + "/_sim/state").json()["revisions"]
        extra = {"increases_held": held,
                 "min_revisions_left": min((r["revisions_left_today"] for r in rows),
                                           default=None),
                 "sim_max_revisions": max(revisions.values(), default=0)}
    return ChannelResult(
        m.code, m.kind, len(writes),
        kinds.count("patch") if m.kind == "amazon" else None,
        kinds.count("feed") if m.kind == "amazon" else None,
        sum(w[1] for _, w in writes), failed, len(log.seen) - len(writes),
        events / len(writes) if writes else None,
        None if settled is None else round(settled - last_event, 3), wrong, count,
        report if count else None, log.wrapped,
        dict(Counter(endpoint(r) for r in log.seen.values()).most_common()),
        drift.get(m.code), **extra)


def run(args: argparse.Namespace, console: Console
        ) -> tuple[list[ChannelResult], BurstInfo | None, list[str]]:
    skus = [f"MK-{i:04d}" for i in range(args.skus)]
    notes: list[str] = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="marketplaces-")))
        settings = stack.enter_context(database(args.db, args.database_url, workdir,
                                                Fernet.generate_key().decode()))
        console.print(f"[{args.db}] seeding {len(skus)} SKUs with {STOCK:,} units each …")
        tenant = seed(settings, dict.fromkeys(skus, STOCK))
        found = stack.enter_context(markets(skus))
        log_path = workdir / "server.log"
        server_log = stack.enter_context(log_path.open("w"))
        base_url = stack.enter_context(stocksync_server(settings, server_log))
        api = stack.enter_context(httpx.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {tenant.api_key}"}))
        http = stack.enter_context(httpx.Client(timeout=30))
        add_channels(api, found)
        started = time.perf_counter()
        synced = wait_settled(found, dict.fromkeys(skus, STOCK), api, SYNC_SECONDS)
        if len(synced) < len(found):
            late = {m.code: unsettled(m, m.state(http), dict.fromkeys(skus, STOCK), api)[0]
                    for m in found if m.code not in synced}
            raise RuntimeError(f"initial sync incomplete after {SYNC_SECONDS:g} s, SKUs "
                               f"still wrong: {late}")
        console.print(f"[{args.db}] initial sync to six channels: "
                      f"{max(synced.values()) - started:.1f} s")
        logs = {m.code: RequestLog(m.sim.url) for m in found}
        for log in logs.values():
            log.start(http)
        moves = plan(skus, args.events, random.Random(args.events * 7919 + args.skus))
        console.print(f"[{args.db}] burst: {len(moves):,} events on {len(skus)} SKUs from "
                      f"{SENDER_THREADS} threads …")
        with polling(list(logs.values())):
            burst_start = time.perf_counter()
            sent = send_all(base_url, tenant.api_key, moves)
            accepted = [s for s in sent if s.status == 201]
            last_event = max((s.answered for s in accepted), default=time.perf_counter())
            ledger = ledger_available(api, skus)
            console.print(f"[{args.db}] {len(accepted):,} accepted in "
                          f"{last_event - burst_start:.1f} s; waiting for the channels …")
            settled = wait_settled(found, ledger, api, CONVERGE_SECONDS)
            time.sleep(SETTLE_SECONDS)
        for log in logs.values():
            log.poll(http)
        last: dict[str, str] = {}
        for s in sorted(accepted, key=lambda s: s.answered):
            last[s.move.sku] = s.move.type
        burst = BurstInfo(len(sent), len(accepted), len(sent) - len(accepted),
                          round(last_event - burst_start, 3),
                          round(len(accepted) / max(last_event - burst_start, 1e-9), 1),
                          sum(s.move.type == "sale" for s in accepted),
                          sum(s.move.type == "receive" for s in accepted),
                          sum(t == "receive" for t in last.values()))
        drift = drift_ratios(base_url, tenant.id)
        results = [summarize(m, logs[m.code], len(accepted), settled.get(m.code), last_event,
                             ledger, drift, http, api) for m in found]
        server_log.flush()
        failures = [line.strip()[:300] for line in log_path.read_text().splitlines()
                    if "channel_push_failed" in line or "Traceback" in line]
        if failures:
            notes.append(f"server logged {len(failures)} push failures/tracebacks, first: "
                         f"{failures[0]}")
    return results, burst, notes


# ---- report ----------------------------------------------------------------------------------


def note_of(r: ChannelResult) -> str:
    parts = []
    if r.amazon_patches is not None:
        parts.append(f"{r.amazon_patches} patches + {r.amazon_feeds} feeds")
    parts.append(f"{r.skus_written:,} SKU values written")
    if r.other_calls:
        parts.append(f"{r.other_calls} other calls")
    if r.reconcile_drift is not None:
        parts.append(f"a scheduled reconciliation ran: drift {r.reconcile_drift:.0%}")
    if r.failed_writes:
        parts.append(f"{r.failed_writes} writes refused")
    if r.increases_held is not None:
        parts.append(f"{r.increases_held} increases held, min revisions left "
                     f"{r.min_revisions_left} (sim: busiest listing {r.sim_max_revisions})")
    if r.wrong_at_end:
        parts.append(f"[red]{r.wrong_at_end} SKUs wrong at the end[/red]")
    if r.log_wrapped:
        parts.append("[yellow]request log wrapped: calls undercounted[/yellow]")
    return "; ".join(parts)


def print_report(results: Sequence[ChannelResult], burst: BurstInfo | None,
                 notes: Sequence[str], console: Console) -> None:
    if burst is not None:
        console.print(f"burst: {burst.accepted:,}/{burst.events:,} events accepted "
                      f"({burst.sales:,} sales, {burst.receipts:,} receipts) in "
                      f"{burst.seconds:.1f} s = {burst.events_per_s:,.0f}/s, refused "
                      f"{burst.refused}; {burst.skus_last_receipt} SKUs ended on a receipt")
    table = Table(title=f"marketplaces: {burst.accepted if burst else 0:,} stock events → "
                        "six channels")
    for col in ("channel", "write calls", "events/call", "converge s", "violations", "note"):
        table.add_column(col, justify="left" if col in ("channel", "note") else "right")
    for r in results:
        violations = "-" if r.violations is None else (
            str(r.violations) if not r.violations else f"[red]{r.violations}[/red]")
        table.add_row(f"{r.kind} ({r.channel})", f"{r.write_calls:,}",
                      "-" if r.events_per_call is None else f"{r.events_per_call:,.1f}",
                      "[red]not settled[/red]" if r.converge_s is None
                      else f"{r.converge_s:.2f}", violations, note_of(r))
    console.print(table)
    for r in results:
        if r.violation_report:
            console.print(f"[red]{r.channel} violations[/red]: {r.violation_report}")
    print_notes(notes, console)


def save(results: Sequence[ChannelResult], burst: BurstInfo | None, notes: Sequence[str],
         args: argparse.Namespace, started: datetime, env: dict[str, object]) -> Path:
    return common.save("marketplaces", started, {
        "db": args.db, "events": args.events, "skus": args.skus, "stock_per_sku": STOCK,
        "sale_share": SALE_SHARE, "receipt_units": RECEIPT_UNITS, "threads": SENDER_THREADS,
        "amazon_feed_processing_delay_s": AMAZON_FEED_DELAY_S, "poll_seconds": POLL_SECONDS,
        "converge_limit_s": CONVERGE_SECONDS,
    }, env, burst=asdict(burst) if burst else None, channels=[asdict(r) for r in results],
        notes=list(notes))


# ---- entry point -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("marketplaces", __doc__)
    p.add_argument("--events", type=int, default=10_000, help="stock events in the burst")
    p.add_argument("--skus", type=int, default=200, help="SKUs the burst spreads over")
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = p.parse_args(argv)
    if args.events < 1 or args.skus < 1:
        p.error("--events and --skus must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    env = common.environment(args.database_url if args.db == "postgres" else None)
    try:
        results, burst, notes = run(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: everything removed")
        return 130
    except Exception as exc:  # reported and saved: the run could not finish
        results, burst, notes = [], None, [f"failed: {type(exc).__name__}: {exc}"[:800]]
    print_report(results, burst, notes, console)
    console.print(f"results: {save(results, burst, notes, args, started, env)}")
    failed = (not results or any(r.violations or r.converge_s is None or r.wrong_at_end
                                 for r in results) or bool(burst and burst.refused))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
