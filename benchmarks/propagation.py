"""Propagation: how long a sale takes to show on every channel, and how well pushes coalesce.

The real app (`create_app()` under uvicorn in a subprocess, workers on) pushes to a Shopify
simulator and a generic HTTP simulator, both running in this process behind a small ASGI
middleware that stamps every inventory write they answer (`time.perf_counter()`) and the
quantity each SKU shows after it. Sales go through `POST /v1/movements`; each answer carries
the level's `available` after that sale, so the first write that makes the channel show a
value <= it is the one that carried the sale. Everything lives in a throwaway SQLite file
or PostgreSQL schema that is removed at the end, also on Ctrl-C or SIGTERM.

    .venv/bin/python -m benchmarks.propagation [--db sqlite|postgres|both] [--rate 200]
        [--seconds 10] [--skus 500]

Phases, per database:

1. latency: sales of 1 unit on random SKUs at a steady --rate (open loop: each sale has a
   planned send time) for --seconds; then wait until both channels show the ledger's values.
2. coalescing: 5,000 sales on 20 SKUs sent as fast as 16 threads can, then the same wait.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks import common
from benchmarks.common import (
    metrics_text,
    number,
    percentile_ms,
    print_notes,
    uvicorn_app,
)
from stocksync.app import handlers
from stocksync.app.records import WriteContext
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.core.catalog import Item, Location
from stocksync.simulators.generic_http import GenericHttpSimConfig, GenericHttpSimState
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig, ShopifySimState
from stocksync.storage.tenants import NewTenant, create_tenant

LOCATION = "WH"
STOCK = 100_000  # per SKU: no sale is ever refused
BURST_SALES = 5_000
BURST_SKUS = 20
BURST_THREADS = 16
PACED_THREADS = 16  # open loop: enough senders that a slow answer never delays the next sale
LATE_SECONDS = 0.010  # a sale sent this long after its planned time counts as late
# Shopify's Standard plan (1,000 points, 50/s restore) allows 5 mutations/s and would be all
# this measures; Shopify Plus-like numbers let stocksync itself show.
SHOP_BUCKET = 2_000.0
SHOP_RESTORE_RATE = 1_000.0
SHOPIFY_TOKEN = "shpat_propagation_bench_token"
GENERIC_SECRET = "propagation-bench-secret"
CHANNELS = {"shop": "shopify", "portal": "generic_http"}  # channel code -> kind
SYNC_SECONDS = 60.0  # initial sync of every SKU to both channels
CONVERGE_SECONDS = 30.0
SETTLE_SECONDS = 10.0  # stocksync marks the last pushes acknowledged (and observes metrics)
POLL_SECONDS = 0.01
STOCK_READ_CHUNK = 200  # GET /v1/stock takes at most 200 SKUs
PG_POOL_SIZE = 20
PROPAGATION_METRIC = "stocksync_propagation_seconds"


# ---- what the simulators acknowledged --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    at: float  # perf_counter() when the simulator answered the write
    sku: str
    value: int  # what the channel shows for the SKU from then on


@dataclass(frozen=True, slots=True)
class Call:
    at: float
    write: bool  # an inventory write (False: a read, e.g. Shopify's compare-and-set refresh)
    skus: int


class Recorder:
    """Every POST a simulator answered and every quantity it changed. `observe` runs on the
    simulator's event loop right after the handler, so the state it reads is the one the
    answer reflects; the benchmark thread only reads (appends and rebinding are atomic)."""

    def __init__(self, levels: Callable[[], dict[str, int]],
                 write_size: Callable[[bytes], int | None]) -> None:
        self._levels = levels
        self._write_size = write_size
        self.calls: list[Call] = []
        self.acks: list[Ack] = []
        self.shown: dict[str, int] = {}

    def observe(self, body: bytes, at: float) -> None:
        skus = self._write_size(body)
        self.calls.append(Call(at, skus is not None, skus or 0))
        now = self._levels()
        before = self.shown
        self.acks.extend(Ack(at, sku, value) for sku, value in now.items()
                         if before.get(sku) != value)
        self.shown = now


class Recording:
    """ASGI middleware: hands each non-`/_sim` POST body and its answer time to a Recorder."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"].startswith("/_sim")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def receive_body() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.recorder.observe(b"".join(chunks), time.perf_counter())
            await send(message)

        await self.app(scope, receive_body, send_stamped)


def shopify_write_size(body: bytes) -> int | None:
    """Quantities in an inventorySetQuantities call; None for queries."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not str(doc.get("query", "")).lstrip().startswith(
            "mutation"):
        return None
    set_input = (doc.get("variables") or {}).get("input") or {}
    return len(set_input.get("quantities") or [])


def generic_write_size(body: bytes) -> int | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return len(doc.get("quantities") or []) if isinstance(doc, dict) else None


def shopify_levels(sim: ShopifySimState, location_id: int) -> dict[str, int]:
    return {sim.variants[sim.variant_by_item[item]].sku: level.available
            for (item, location), level in sim.levels.items() if location == location_id}


def generic_levels(sim: GenericHttpSimState) -> dict[str, int]:
    return dict(sim.quantities)


@dataclass(frozen=True, slots=True)
class Sims:
    shop: ServerThread
    portal: ServerThread
    shop_location: str
    recorders: dict[str, Recorder]  # by channel code


@contextmanager
def simulators() -> Iterator[Sims]:
    shop_app = shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN,
                                            maximum_available=SHOP_BUCKET,
                                            restore_rate=SHOP_RESTORE_RATE))
    shop_sim: ShopifySimState = shop_app.state.sim
    location = shop_sim.default_location_id
    portal_app = generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))
    recorders = {
        "shop": Recorder(partial(shopify_levels, shop_sim, location), shopify_write_size),
        "portal": Recorder(partial(generic_levels, portal_app.state.sim), generic_write_size),
    }
    with ServerThread(Recording(shop_app, recorders["shop"])) as shop, \
            ServerThread(Recording(portal_app, recorders["portal"])) as portal:
        yield Sims(shop, portal, str(location), recorders)


# ---- stocksync: database, seed, server, channels ---------------------------------------------


@contextmanager
def database(kind: str, pg_url: str, workdir: Path, secret: str) -> Iterator[Settings]:
    """Settings for an empty database: a SQLite file in `workdir` or a fresh PostgreSQL
    schema, dropped afterwards."""
    if kind == "sqlite":
        yield Settings(database_url=f"sqlite:///{workdir / 'propagation.db'}",
                       run_workers=False, secret_key=secret)
        return
    schema = f"bench_prop_{os.urandom(6).hex()}"
    admin = sa.create_engine(pg_url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            yield Settings(database_url=pg_url, database_schema=schema, run_workers=False,
                           db_pool_size=PG_POOL_SIZE, secret_key=secret)
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text("SET LOCAL lock_timeout = '15s'"))
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def seed(settings: Settings, stock: dict[str, int]) -> NewTenant:
    """Tenant, location, items and their stock in one transaction, through the handlers."""
    svc = build_service(settings)
    try:
        now = svc.clock()
        with svc.engine.begin() as conn:
            tenant = create_tenant(conn, "propagation-bench", now)
        ctx = WriteContext(tenant_id=tenant.id, now=now, source="bench")
        with svc.uow(tenant.id) as uow:
            uow.catalog.put_location(Location(LOCATION, "Bench warehouse"), now)
            for sku, quantity in stock.items():
                uow.catalog.put_item(Item(sku, title=f"bench {sku}"), now)
                handlers.record_movement(uow, ctx, handlers.Movement("receive", sku, LOCATION,
                                                                     quantity))
            uow.commit()
        return tenant
    finally:
        svc.engine.dispose()


@contextmanager
def stocksync_server(settings: Settings, log: TextIO) -> Iterator[str]:
    """`create_app()` with its workers (sequencer, expirer, channel supervisor) under uvicorn
    in its own process, so it does not share an interpreter lock with the load and the
    simulators. Its output goes to `log`."""
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": settings.database_url,
           "STOCKSYNC_RUN_WORKERS": "true", "STOCKSYNC_SECRET_KEY": settings.secret_key or "",
           "STOCKSYNC_DB_POOL_SIZE": str(settings.db_pool_size),
           "STOCKSYNC_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    if settings.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = settings.database_schema
    with uvicorn_app(env, stdout=log, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL) as url:
        yield url


def add_products(sims: Sims, skus: Sequence[str]) -> None:
    with httpx.Client(base_url=sims.shop.url, timeout=30) as http:
        for sku in skus:
            r = http.post("/_sim/products", json={"sku": sku,
                                                  "quantities": {sims.shop_location: 0}})
            r.raise_for_status()


def add_channels(http: httpx.Client, sims: Sims) -> None:
    for body in (
        {"code": "shop", "kind": "shopify", "name": "Shopify (simulator)",
         "locations": [LOCATION], "credentials": {"access_token": SHOPIFY_TOKEN},
         "settings": {"shop_url": sims.shop.url, "location_id": sims.shop_location}},
        {"code": "portal", "kind": "generic_http", "name": "Portal (simulator)",
         "locations": [LOCATION], "credentials": {"secret": GENERIC_SECRET},
         "settings": {"url": sims.portal.url + "/inventory"}},
    ):
        r = http.post("/v1/channels", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"creating channel {body['code']}: {r.status_code} {r.text}")


def wait_until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(POLL_SECONDS)
    return check()


def wrong_values(recorder: Recorder, expected: dict[str, int]) -> int:
    shown = recorder.shown
    return sum(shown.get(sku) != value for sku, value in expected.items())


def describe_channels(http: httpx.Client, sims: Sims, expected: dict[str, int],
                      log_path: Path) -> str:
    """Why a wait failed: SKUs still wrong per channel, stocksync's own status of each
    channel, and the server's last log line."""
    parts = []
    for code, recorder in sims.recorders.items():
        try:
            status = http.get(f"/v1/channels/{code}").json().get("status") or {}
        except (httpx.HTTPError, ValueError) as exc:
            status = {"error": repr(exc)}
        parts.append(f"{code}: {wrong_values(recorder, expected)} SKUs wrong, "
                     f"{len(recorder.calls)} calls, status "
                     f"{ {k: status.get(k) for k in ('cursor', 'head', 'pending', 'last_error')} }")
    lines = log_path.read_text().strip().splitlines() if log_path.exists() else []
    return "; ".join(parts) + (f"; server log: {lines[-1][:300]}" if lines else "")


def ledger_available(http: httpx.Client, skus: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(skus), STOCK_READ_CHUNK):
        chunk = skus[start:start + STOCK_READ_CHUNK]
        r = http.get("/v1/stock", params=[("sku", sku) for sku in chunk])
        r.raise_for_status()
        found.update({item["sku"]: int(item["available"]) for item in r.json()["items"]})
    return found


def channels_settled(http: httpx.Client) -> bool:
    for code in CHANNELS:
        status = http.get(f"/v1/channels/{code}").json()["status"]
        if status["pending"] or status["cursor"] != status["head"]:
            return False
    return True


# ---- the load ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sale:
    sku: str
    planned: float  # perf_counter() it was due to be sent
    sent: float  # t0: perf_counter() just before the request
    answered: float
    status: int  # 0: no answer
    available: int | None  # the level's available right after this sale


Plan = Callable[[int], float | None]  # n-th sale -> seconds after the start, None: done


def paced(rate: float, seconds: float, n: int) -> float | None:
    return n / rate if n < rate * seconds else None


def burst(total: int, n: int) -> float | None:
    return 0.0 if n < total else None


@dataclass(slots=True)
class Load:
    base_url: str
    api_key: str
    skus: Sequence[str]
    plan: Plan
    start: float
    counter: Iterator[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    sales: list[Sale] = field(default_factory=list)

    def take(self) -> float | None:
        with self.lock:
            offset = self.plan(next(self.counter))
        return None if offset is None else self.start + offset


def _seller(load: Load, rng: random.Random) -> None:
    headers = {"Authorization": f"Bearer {load.api_key}"}
    with httpx.Client(base_url=load.base_url, headers=headers, timeout=30) as http:
        while not load.stop.is_set() and (planned := load.take()) is not None:
            if (delay := planned - time.perf_counter()) > 0:
                time.sleep(delay)
            sku = rng.choice(load.skus)
            sent = time.perf_counter()
            status, available = 0, None
            with suppress(httpx.HTTPError, ValueError, KeyError, IndexError):
                r = http.post("/v1/movements", json={"type": "sale", "sku": sku,
                                                     "location": LOCATION, "quantity": 1})
                status = r.status_code
                if status == 201:
                    available = int(r.json()["levels"][0]["available"])
            load.sales.append(Sale(sku, planned, sent, time.perf_counter(), status, available))


def sell(base_url: str, api_key: str, skus: Sequence[str], plan: Plan, threads: int,
         seed_value: int) -> list[Sale]:
    load = Load(base_url, api_key, skus, plan, time.perf_counter() + 0.2)
    workers = [threading.Thread(target=_seller, args=(load, random.Random(seed_value + i)),
                                daemon=True, name=f"seller-{i}") for i in range(threads)]
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
    return sorted(load.sales, key=lambda s: s.sent)


# ---- what the phases measured ----------------------------------------------------------------


def first_shown(sales: Sequence[Sale], acks: Sequence[Ack]) -> list[tuple[Sale, Ack | None]]:
    """For every recorded sale, the first write after which the channel showed its effect:
    available only falls during a phase, so that is the first value <= the sale's result."""
    by_sku: dict[str, list[Ack]] = {}
    for ack in acks:
        by_sku.setdefault(ack.sku, []).append(ack)
    pairs: list[tuple[Sale, Ack | None]] = []
    for sale in sales:
        if sale.available is None:
            continue
        hit = next((a for a in by_sku.get(sale.sku, ()) if a.value <= sale.available), None)
        pairs.append((sale, hit))
    return pairs


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: dict[float, float]  # upper bound -> cumulative count
    count: float
    total: float


def scrape(base_url: str, tenant_id: str) -> dict[str, Histogram]:
    """stocksync_propagation_seconds per channel code, from /metrics."""
    text = metrics_text(base_url)
    found: dict[str, Histogram] = {}
    for family in text_string_to_metric_families(text):
        if family.name != PROPAGATION_METRIC:
            continue
        for sample in family.samples:
            if sample.labels.get("tenant") != tenant_id:
                continue
            channel = sample.labels["channel"]
            histo = found.setdefault(channel, Histogram({}, 0.0, 0.0))
            if sample.name.endswith("_bucket"):
                histo.buckets[float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_count"):
                found[channel] = Histogram(histo.buckets, sample.value, histo.total)
            elif sample.name.endswith("_sum"):
                found[channel] = Histogram(histo.buckets, histo.count, sample.value)
    return found


def histogram_delta(after: Histogram | None, before: Histogram | None) -> Histogram | None:
    if after is None:
        return None
    if before is None:
        return after
    return Histogram({le: n - before.buckets.get(le, 0.0) for le, n in after.buckets.items()},
                     after.count - before.count, after.total - before.total)


def histogram_ms(histo: Histogram, q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket that holds the rank; q=1
    gives the upper bound of the highest non-empty bucket."""
    if histo.count <= 0:
        return None
    rank, lower, below = q * histo.count, 0.0, 0.0
    for le, cumulative in sorted(histo.buckets.items()):
        if cumulative >= rank and cumulative > below:
            if math.isinf(le):
                return lower * 1000
            if q >= 1.0:
                return le * 1000
            return (lower + (le - lower) * (rank - below) / (cumulative - below)) * 1000
        lower, below = le, cumulative
    return lower * 1000


@dataclass(frozen=True, slots=True)
class Row:
    db: str
    phase: str
    channel: str
    measure: str  # per sale | per sale from 201 | per push | /metrics
    sales: int
    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    api_calls: int | None = None
    reads: int | None = None
    events_per_call: float | None = None
    skus_per_call: float | None = None
    converge_s: float | None = None
    wrong_finals: int | None = None
    never_shown: int | None = None  # recorded sales the channel never reflected


def latency_row(db: str, phase: str, channel: str, measure: str, sales: int,
                samples: Sequence[float], **extra: Any) -> Row:
    return Row(db, phase, channel, measure, sales, len(samples),
               percentile_ms(samples, 0.50), percentile_ms(samples, 0.95),
               percentile_ms(samples, 0.99), percentile_ms(samples, 1.0), **extra)


def channel_rows(db: str, phase: str, code: str, sales: Sequence[Sale], acks: Sequence[Ack],
                 calls: Sequence[Call], final: dict[str, int], load_end: float, wrong: int,
                 metric: Histogram | None) -> list[Row]:
    recorded = [s for s in sales if s.available is not None]
    pairs = first_shown(recorded, acks)
    per_sale = [ack.at - sale.sent for sale, ack in pairs if ack is not None]
    # From the 201 instead of t0: what is left once the sale is committed (negative when the
    # push got there before the client read its answer).
    after_answer = [ack.at - sale.answered for sale, ack in pairs if ack is not None]
    oldest: dict[tuple[str, float], float] = {}  # (sku, write) -> oldest sale it carried
    for sale, ack in pairs:
        if ack is not None:
            key = (ack.sku, ack.at)
            oldest[key] = min(oldest.get(key, sale.sent), sale.sent)
    per_push = [at - sent for (_, at), sent in oldest.items()]
    writes = [c for c in calls if c.write]
    reached = [next((a.at for a in acks if a.sku == sku and a.value == value), None)
               for sku, value in final.items() if any(a.sku == sku for a in acks)]
    converge = (None if any(t is None for t in reached)
                else max([t for t in reached if t is not None], default=load_end) - load_end)
    kind = CHANNELS[code]
    return [
        latency_row(db, phase, kind, "per sale", len(recorded), per_sale,
                    api_calls=len(writes), reads=len(calls) - len(writes),
                    events_per_call=len(recorded) / len(writes) if writes else None,
                    skus_per_call=(statistics.fmean(c.skus for c in writes)
                                   if writes else None),
                    converge_s=converge, wrong_finals=wrong,
                    never_shown=sum(ack is None for _, ack in pairs)),
        latency_row(db, phase, kind, "per sale from 201", len(recorded), after_answer),
        latency_row(db, phase, kind, "per push", len(recorded), per_push),
        metric_row(db, phase, kind, len(recorded), metric),
    ]


def metric_row(db: str, phase: str, channel: str, sales: int, metric: Histogram | None) -> Row:
    """stocksync's own view: percentiles interpolated within the histogram's buckets, and
    the upper bound of the highest non-empty bucket as the maximum."""
    if metric is None:
        return Row(db, phase, channel, "/metrics", sales, 0, None, None, None, None)
    return Row(db, phase, channel, "/metrics", sales, int(metric.count),
               histogram_ms(metric, 0.50), histogram_ms(metric, 0.95),
               histogram_ms(metric, 0.99), histogram_ms(metric, 1.0))


@dataclass(frozen=True, slots=True)
class PhaseInfo:
    db: str
    phase: str
    sales_sent: int
    recorded: int
    errors: int
    seconds: float  # first send to last answer
    sales_per_s: float
    late_sends: int  # open loop: sent > LATE_SECONDS after their planned time
    api_p50_ms: float | None
    api_p99_ms: float | None
    first_error: str | None


def phase_info(db: str, phase: str, sales: Sequence[Sale]) -> PhaseInfo:
    if not sales:
        return PhaseInfo(db, phase, 0, 0, 0, 0.0, 0.0, 0, None, None, "no sale was sent")
    seconds = max(s.answered for s in sales) - min(s.sent for s in sales)
    recorded = [s for s in sales if s.available is not None]
    failed = [s for s in sales if s.available is None]
    api = [s.answered - s.sent for s in sales]
    return PhaseInfo(db, phase, len(sales), len(recorded), len(failed), round(seconds, 3),
                     round(len(recorded) / seconds, 1) if seconds else 0.0,
                     sum(s.sent - s.planned > LATE_SECONDS for s in sales),
                     percentile_ms(api, 0.5), percentile_ms(api, 0.99),
                     f"{failed[0].sku}: status {failed[0].status}" if failed else None)


# ---- phases --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bench:
    db: str
    base_url: str
    tenant: NewTenant
    http: httpx.Client
    sims: Sims


def run_phase(bench: Bench, phase: str, skus: Sequence[str], plan: Plan,
              threads: int) -> tuple[list[Row], PhaseInfo]:
    marks = {code: (len(r.acks), len(r.calls)) for code, r in bench.sims.recorders.items()}
    before = scrape(bench.base_url, bench.tenant.id)
    sales = sell(bench.base_url, bench.tenant.api_key, skus, plan, threads,
                 seed_value=zlib.crc32(f"{bench.db}:{phase}".encode()))
    info = phase_info(bench.db, phase, sales)
    load_end = max((s.answered for s in sales), default=time.perf_counter())
    final = ledger_available(bench.http, skus)
    recorders = bench.sims.recorders
    wait_until(lambda: all(wrong_values(r, final) == 0 for r in recorders.values()),
               CONVERGE_SECONDS)
    wrong = {code: wrong_values(r, final) for code, r in recorders.items()}
    wait_until(partial(channels_settled, bench.http), SETTLE_SECONDS)
    after = scrape(bench.base_url, bench.tenant.id)
    rows: list[Row] = []
    for code, recorder in recorders.items():
        acks, calls = recorder.acks[marks[code][0]:], recorder.calls[marks[code][1]:]
        rows += channel_rows(bench.db, phase, code, sales, acks, calls, final, load_end,
                             wrong[code], histogram_delta(after.get(code), before.get(code)))
    return rows, info


def run_database(db: str, args: argparse.Namespace, console: Console,
                 rows: list[Row], infos: list[PhaseInfo], notes: list[str]) -> None:
    skus = [f"P-{i:05d}" for i in range(args.skus)]
    hot = [f"HOT-{i:02d}" for i in range(BURST_SKUS)]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="propagation-")))
        settings = stack.enter_context(database(db, args.database_url, workdir,
                                                Fernet.generate_key().decode()))
        console.print(f"[{db}] seeding {len(skus) + len(hot)} SKUs …")
        tenant = seed(settings, dict.fromkeys([*skus, *hot], STOCK))
        sims = stack.enter_context(simulators())
        add_products(sims, [*skus, *hot])
        log_path = workdir / "server.log"
        log = stack.enter_context(log_path.open("w"))
        base_url = stack.enter_context(stocksync_server(settings, log))
        http = stack.enter_context(httpx.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {tenant.api_key}"}))
        add_channels(http, sims)
        synced = time.perf_counter()
        expected = dict.fromkeys([*skus, *hot], STOCK)
        if not wait_until(lambda: all(wrong_values(r, expected) == 0
                                      for r in sims.recorders.values()), SYNC_SECONDS):
            raise RuntimeError(f"initial sync incomplete after {SYNC_SECONDS:g} s: "
                               + describe_channels(http, sims, expected, log_path))
        wait_until(partial(channels_settled, http), SETTLE_SECONDS)
        console.print(f"[{db}] initial sync of {len(expected)} SKUs to both channels: "
                      f"{time.perf_counter() - synced:.2f} s")
        bench = Bench(db, base_url, tenant, http, sims)
        console.print(f"[{db}] latency: {args.rate:g} sales/s for {args.seconds:g} s on "
                      f"{len(skus)} SKUs …")
        got, info = run_phase(bench, "latency", skus, partial(paced, args.rate, args.seconds),
                              PACED_THREADS)
        rows += got
        infos.append(info)
        console.print(f"[{db}] coalescing: {BURST_SALES} sales on {BURST_SKUS} SKUs, "
                      f"{BURST_THREADS} threads …")
        got, info = run_phase(bench, "coalescing", hot, partial(burst, BURST_SALES),
                              BURST_THREADS)
        rows += got
        infos.append(info)
        log.flush()
        failures = [line.strip()[:300] for line in log_path.read_text().splitlines()
                    if "channel_push_failed" in line or "Traceback" in line]
        if failures:
            notes.append(f"{db}: server logged {len(failures)} push failures/tracebacks, "
                         f"first: {failures[0]}")


# ---- report ----------------------------------------------------------------------------------


def print_report(rows: Sequence[Row], infos: Sequence[PhaseInfo], notes: Sequence[str],
                 console: Console) -> None:
    titles = {"latency": "propagation latency: sale sent (t0) → channel shows its effect",
              "coalescing": f"coalescing: {BURST_SALES:,} sales on {BURST_SKUS} SKUs"}
    for phase, title in titles.items():
        table = Table(title=title)
        for col in ("db", "channel", "measure", "sales", "p50 ms", "p95 ms", "p99 ms",
                    "max ms", "API calls", "events/call", "converge s", "wrong finals"):
            table.add_column(col, justify="left" if col in ("db", "channel", "measure")
                             else "right")
        for r in rows:
            if r.phase != phase:
                continue
            table.add_row(r.db, r.channel, r.measure, str(r.sales), number(r.p50_ms),
                          number(r.p95_ms), number(r.p99_ms), number(r.max_ms),
                          "-" if r.api_calls is None else str(r.api_calls),
                          number(r.events_per_call), number(r.converge_s, 3),
                          "-" if r.wrong_finals is None else str(r.wrong_finals))
        console.print(table)
        for i in infos:
            if i.phase == phase:
                console.print(f"  {i.db}: {i.recorded:,} sales recorded in {i.seconds:.2f} s "
                              f"({i.sales_per_s:,.1f}/s), POST p50 {number(i.api_p50_ms)} ms, "
                              f"p99 {number(i.api_p99_ms)} ms, late sends {i.late_sends}, "
                              f"errors {i.errors}"
                              + (f" (first: {i.first_error})" if i.first_error else ""))
    never = [r for r in rows if r.never_shown]
    for r in never:
        console.print(f"[red]{r.db} {r.phase} {r.channel}: {r.never_shown} recorded sales "
                      "never shown by the channel[/red]")
    print_notes(notes, console)


def save(rows: Sequence[Row], infos: Sequence[PhaseInfo], notes: Sequence[str],
         args: argparse.Namespace, started: datetime, env: dict[str, object]) -> Path:
    return common.save("propagation", started, {
        "db": args.db, "rate": args.rate, "seconds": args.seconds, "skus": args.skus,
        "stock_per_sku": STOCK, "paced_threads": PACED_THREADS, "burst_sales": BURST_SALES,
        "burst_skus": BURST_SKUS, "burst_threads": BURST_THREADS,
        "shopify_bucket": {"maximum_available": SHOP_BUCKET, "restore_rate": SHOP_RESTORE_RATE},
    }, env, rows=[asdict(r) for r in rows], phases=[asdict(i) for i in infos],
        notes=list(notes))


# ---- entry point -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("propagation", __doc__)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--rate", type=float, default=200.0, help="sales per second (latency)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the latency phase")
    p.add_argument("--skus", type=int, default=500, help="SKUs the latency phase sells")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.skus < 1:
        p.error("--rate and --seconds must be > 0, --skus >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    env = common.environment(args.database_url if "postgres" in dbs else None)
    common.warn_if_busy(console)
    rows: list[Row] = []
    infos: list[PhaseInfo] = []
    notes: list[str] = []
    broken: list[str] = []  # databases whose run could not finish
    for db in dbs:
        try:
            run_database(db, args, console, rows, infos, notes)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: partial results, everything removed")
            print_report(rows, infos, notes, console)
            return 130
        except Exception as exc:  # reported, never fatal: the other database still runs
            broken.append(db)
            notes.append(f"{db}: failed: {type(exc).__name__}: {exc}"[:500])
    print_report(rows, infos, notes, console)
    console.print(f"results: {save(rows, infos, notes, args, started, env)}")
    failed = bool(broken) or any(r.wrong_finals or r.never_shown for r in rows) or any(
        i.errors for i in infos)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
