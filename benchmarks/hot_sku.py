"""Hot SKU: many clients reserving one SKU, stocksync side by side with a naive baseline.

Goal G1 of the team's research notes (anchors-perf-reliability.md): successful reservations/s on
one SKU with 64 clients, stocksync's reservation path vs `BEGIN; SELECT … FOR UPDATE;
UPDATE; INSERT; INSERT; COMMIT`, same PostgreSQL, same run, and no oversell. Both sides
keep one persistent connection per client (stocksync through its pool). Everything lives
in a throwaway schema that is dropped at the end, also on Ctrl-C or SIGTERM.

    .venv/bin/python -m benchmarks.hot_sku [--seconds 10] [--clients 64] [--http]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import LiteralString, Protocol

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, make_url, select

from benchmarks import common
from benchmarks.common import percentile_ms, uvicorn_app
from stocksync.api.errors import render_domain_error
from stocksync.api.routes.reservations import reservation_out
from stocksync.api.schemas import ReservationIn
from stocksync.app import handlers
from stocksync.app.records import ReservationRecord, WriteContext
from stocksync.app.service import RequestMeta, Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.core.catalog import Item, Location
from stocksync.core.reservations import ReservationStatus
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import reservations, stock_levels
from stocksync.storage.tenants import NewTenant, create_tenant

WARMUP_SECONDS = 1.0  # calls finishing in the first second are not measured (pool fill, plans)
THROUGHPUT_STOCK = 10_000_000  # never sells out: the run measures throughput
SELLOUT_STOCK = 500
SELLOUT_LIMIT_SECONDS = 120.0  # a sell-out still running by then stops (and shows as a gap)
JOIN_SECONDS = 30.0  # how long a stopping client may take to finish its current call
ERROR_PAUSE_SECONDS = 0.01  # a failing client backs off a little instead of spinning
LOCATION = "WH"
NAIVE_TABLES: tuple[LiteralString, ...] = (
    "CREATE TABLE naive_levels (sku text PRIMARY KEY, on_hand bigint NOT NULL, "
    "reserved bigint NOT NULL)",
    "CREATE TABLE naive_reservations (id uuid PRIMARY KEY, sku text NOT NULL, "
    "quantity bigint NOT NULL, status text NOT NULL, expires_at timestamptz NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX ON naive_reservations (sku, status)",
    "CREATE TABLE naive_events (id bigserial PRIMARY KEY, type text NOT NULL, "
    "sku text NOT NULL, quantity bigint NOT NULL, reservation_id uuid NOT NULL, "
    "recorded_at timestamptz NOT NULL DEFAULT now())",
)


# ---- the load: clients on a deadline, one reader, latencies --------------------------------


class Client(Protocol):
    def reserve(self) -> bool:
        """Hold one unit: True when held, False when refused; raises on any failure."""
        ...

    def close(self) -> None: ...


class Reader(Protocol):
    def read(self) -> int:
        """The SKU's available quantity, read the way a storefront reads it."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Tally:
    """One thread's counts. Errors and refusals include the warm-up; rates do not."""

    ok_measured: int = 0
    ok_total: int = 0  # every acknowledged hold: checked against the database afterwards
    refused: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:300]


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # perf_counter() when clients begin
    measure: float  # calls finishing from here until `end` are measured
    end: float  # no call starts after it


@dataclass(slots=True)
class Run:
    until_refused: bool
    go: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    window: Window = Window(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Load:
    seconds: float
    ok_measured: int
    ok_total: int
    refused: int
    errors: int
    latencies: list[float]
    read_latencies: list[float]
    first_error: str | None


def _drive(client: Client, tally: Tally, run: Run) -> None:
    run.go.wait()
    window = run.window
    while not run.stop.is_set():
        began = time.perf_counter()
        if began >= window.end:
            return
        try:
            held = client.reserve()
        except Exception as exc:  # counted, never fatal: the run goes on
            tally.failed(exc)
            time.sleep(ERROR_PAUSE_SECONDS)
            continue
        done = time.perf_counter()
        tally.ok_total += held
        tally.refused += not held
        if window.measure <= done <= window.end:
            tally.latencies.append(done - began)
            tally.ok_measured += held
        if run.until_refused and not held:
            return


def _watch(reader: Reader, tally: Tally, run: Run) -> None:
    run.go.wait()
    window = run.window
    while not run.stop.is_set() and time.perf_counter() < window.end:
        began = time.perf_counter()
        try:
            reader.read()
        except Exception as exc:  # counted, never fatal
            tally.failed(exc)
            time.sleep(ERROR_PAUSE_SECONDS)
            continue
        done = time.perf_counter()
        if window.measure <= done <= window.end:
            tally.latencies.append(done - began)


def run_load(clients: Sequence[Client], reader: Reader, *, warmup: float, seconds: float,
             until_refused: bool = False) -> Load:
    """Run every client in its own thread plus one reader, until the deadline or (sell-out)
    until each client has been refused once."""
    run = Run(until_refused)
    tallies = [Tally() for _ in clients]
    read_tally = Tally()
    threads = [threading.Thread(target=_drive, args=(c, t, run), daemon=True)
               for c, t in zip(clients, tallies, strict=True)]
    watcher = threading.Thread(target=_watch, args=(reader, read_tally, run), daemon=True)
    try:
        for thread in [*threads, watcher]:
            thread.start()
        start = time.perf_counter()
        run.window = Window(start, start + warmup, start + warmup + seconds)
        run.go.set()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.05)
        elapsed = time.perf_counter() - start
    finally:
        run.go.set()
        run.stop.set()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in [*threads, watcher]:
            thread.join(max(0.0, deadline - time.monotonic()))
        for closable in [*clients, reader]:
            with suppress(Exception):
                closable.close()
    return Load(
        seconds=seconds if not until_refused else elapsed,
        ok_measured=sum(t.ok_measured for t in tallies),
        ok_total=sum(t.ok_total for t in tallies),
        refused=sum(t.refused for t in tallies),
        errors=sum(t.errors for t in tallies) + read_tally.errors,
        latencies=[x for t in tallies for x in t.latencies],
        read_latencies=read_tally.latencies,
        first_error=next((t.first_error for t in [*tallies, read_tally] if t.first_error),
                         None),
    )


def _verdict(status: int, body: str) -> bool:
    if status in (200, 201):
        return True
    if status == 409 and "insufficient_stock" in body:
        return False
    raise RuntimeError(f"status {status}: {body[:200]}")


# ---- what is checked after each phase ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    oversold: int
    problems: list[str]


def judge(on_hand: int, reserved: int, holds: int, acknowledged: int,
          problems: list[str]) -> Check:
    """Units promised beyond stock (by the level or by acknowledgements), and every count
    that disagrees: acknowledged holds, the level's reserved, rows in the holds table."""
    if acknowledged != reserved:
        problems.append(f"acknowledged {acknowledged} != reserved {reserved}")
    if holds != reserved:
        problems.append(f"{holds} hold rows != reserved {reserved}")
    return Check(max(0, reserved - on_hand, acknowledged - on_hand), problems)


class Target(Protocol):
    name: str

    def prepare(self, sku: str, on_hand: int) -> None: ...
    def clients(self, count: int, sku: str) -> list[Client]: ...
    def reader(self, sku: str) -> Reader: ...
    def check(self, sku: str, acknowledged: int) -> Check: ...
    def idle(self) -> None:
        """Give pooled connections back to the server between phases."""
        ...


# ---- Phase A: stocksync's reservation path, minus HTTP -------------------------------------


def _render(record: ReservationRecord) -> tuple[int, object]:
    # exactly what POST /v1/reservations renders
    return 201, reservation_out(record, record.created_at).model_dump(mode="json")


class ServiceReserver:
    """One caller of Stocksync.reserve exactly as POST /v1/reservations calls it: with an
    Idempotency-Key, a request fingerprint and a correlation id."""

    def __init__(self, svc: Stocksync, tenant_id: str, sku: str) -> None:
        self.svc = svc
        self.tenant_id = tenant_id
        self.request = handlers.NewReservation(sku, 1, LOCATION)
        body = ReservationIn(sku=sku, quantity=1, location=LOCATION).model_dump_json()
        self.fingerprint = RequestMeta.fingerprint_of("POST", "/v1/reservations", body.encode())

    def reserve(self) -> bool:
        meta = RequestMeta(source="api", actor="key:bench", idempotency_key=uuid.uuid4().hex,
                           fingerprint=self.fingerprint, correlation_id=uuid.uuid4().hex)
        outcome = self.svc.reserve(self.tenant_id, meta, self.request, _render,
                                   render_domain_error)
        return _verdict(outcome.status, outcome.body)

    def close(self) -> None:
        pass


class ServiceReader:
    """What GET /v1/stock does for the levels: a read-only unit of work."""

    def __init__(self, svc: Stocksync, tenant_id: str, sku: str) -> None:
        self.svc, self.tenant_id, self.sku = svc, tenant_id, sku

    def read(self) -> int:
        with self.svc.uow(self.tenant_id, write=False) as uow:
            levels = uow.ledger.levels([self.sku], self.svc.clock())
        return sum(level.available for level in levels)

    def close(self) -> None:
        pass


class StocksyncTarget:
    name = "stocksync"

    def __init__(self, svc: Stocksync, tenant: NewTenant) -> None:
        self.svc = svc
        self.tenant = tenant

    def prepare(self, sku: str, on_hand: int) -> None:
        now = self.svc.clock()
        ctx = WriteContext(tenant_id=self.tenant.id, now=now, source="bench")
        with self.svc.uow(self.tenant.id) as uow:
            uow.catalog.put_item(Item(sku, title=f"hot {sku}"), now)
            handlers.record_movement(uow, ctx, handlers.Movement("receive", sku, LOCATION,
                                                                 on_hand))
            uow.commit()

    def clients(self, count: int, sku: str) -> list[Client]:
        return [ServiceReserver(self.svc, self.tenant.id, sku) for _ in range(count)]

    def reader(self, sku: str) -> Reader:
        return ServiceReader(self.svc, self.tenant.id, sku)

    def check(self, sku: str, acknowledged: int) -> Check:
        """Sequence the outbox, replay the ledger (verify), then compare the counts."""
        engine = self.svc.engine
        drain(engine)
        report = self.svc.verify(self.tenant.id)
        problems = [m.describe() for m in report.mismatches[:3]]
        with engine.connect() as conn:
            on_hand, reserved = conn.execute(
                select(stock_levels.c.on_hand, stock_levels.c.reserved).where(
                    stock_levels.c.tenant_id == self.tenant.id, stock_levels.c.sku == sku,
                    stock_levels.c.location == LOCATION)).one()
            holds = conn.execute(select(func.coalesce(func.sum(reservations.c.quantity), 0))
                                 .where(reservations.c.tenant_id == self.tenant.id,
                                        reservations.c.sku == sku,
                                        reservations.c.status == ReservationStatus.ACTIVE.value)
                                 ).scalar_one()
        return judge(int(on_hand), int(reserved), int(holds), acknowledged, problems)

    def idle(self) -> None:
        self.svc.engine.dispose()


# ---- Phase B: the naive baseline, psycopg 3 with a connection per client ------------------


class NaiveReserver:
    def __init__(self, dsn: str, sku: str) -> None:
        self.dsn, self.sku = dsn, sku
        self.conn = psycopg.connect(dsn)

    def reserve(self) -> bool:
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT on_hand, reserved FROM naive_levels WHERE sku = %s "
                            "FOR UPDATE", (self.sku,))
                row = cur.fetchone()
                if row is None:
                    raise LookupError(f"no naive level for {self.sku}")
                if row[0] - row[1] < 1:
                    self.conn.rollback()
                    return False
                hold = uuid.uuid4()
                cur.execute("UPDATE naive_levels SET reserved = reserved + 1 WHERE sku = %s",
                            (self.sku,))
                cur.execute("INSERT INTO naive_reservations (id, sku, quantity, status, "
                            "expires_at) VALUES (%s, %s, 1, 'active', "
                            "now() + interval '300 seconds')", (hold, self.sku))
                cur.execute("INSERT INTO naive_events (type, sku, quantity, reservation_id) "
                            "VALUES ('stock.reserved', %s, 1, %s)", (self.sku, hold))
            self.conn.commit()
            return True
        except Exception:
            self._recover()
            raise

    def _recover(self) -> None:
        if self.conn.broken or self.conn.closed:
            with suppress(Exception):
                self.conn.close()
            self.conn = psycopg.connect(self.dsn)
        else:
            with suppress(Exception):
                self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


class NaiveReader:
    def __init__(self, dsn: str, sku: str) -> None:
        self.sku = sku
        self.conn = psycopg.connect(dsn, autocommit=True)

    def read(self) -> int:
        row = self.conn.execute("SELECT on_hand - reserved FROM naive_levels WHERE sku = %s",
                                (self.sku,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()


class NaiveTarget:
    name = "naive FOR UPDATE"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        with psycopg.connect(dsn) as conn:
            for ddl in NAIVE_TABLES:
                conn.execute(ddl)

    def prepare(self, sku: str, on_hand: int) -> None:
        with psycopg.connect(self.dsn) as conn:
            conn.execute("INSERT INTO naive_levels VALUES (%s, %s, 0)", (sku, on_hand))

    def clients(self, count: int, sku: str) -> list[Client]:
        made: list[Client] = []
        try:
            for _ in range(count):
                made.append(NaiveReserver(self.dsn, sku))
        except BaseException:
            for client in made:
                client.close()
            raise
        return made

    def reader(self, sku: str) -> Reader:
        return NaiveReader(self.dsn, sku)

    def check(self, sku: str, acknowledged: int) -> Check:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            level = conn.execute("SELECT on_hand, reserved FROM naive_levels WHERE sku = %s",
                                 (sku,)).fetchone()
            holds = conn.execute("SELECT count(*) FROM naive_reservations WHERE sku = %s",
                                 (sku,)).fetchone()
            logged = conn.execute("SELECT count(*) FROM naive_events WHERE sku = %s",
                                  (sku,)).fetchone()
        assert level is not None and holds is not None and logged is not None
        problems = [] if logged[0] == level[1] else [f"{logged[0]} events != {level[1]}"]
        return judge(int(level[0]), int(level[1]), int(holds[0]), acknowledged, problems)

    def idle(self) -> None:
        pass  # every connection belongs to a client and is closed with it


# ---- Phase C (--http): the same load through the real API in a uvicorn subprocess ----------


class HttpReserver:
    def __init__(self, base_url: str, api_key: str, sku: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}"})
        self.body = {"sku": sku, "quantity": 1, "location": LOCATION}

    def reserve(self) -> bool:
        r = self.http.post("/v1/reservations", json=self.body,
                           headers={"Idempotency-Key": uuid.uuid4().hex})
        return _verdict(r.status_code, r.text)

    def close(self) -> None:
        self.http.close()


class HttpReader:
    def __init__(self, base_url: str, api_key: str, sku: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}"})
        self.path = f"/v1/stock/{sku}"

    def read(self) -> int:
        r = self.http.get(self.path)
        r.raise_for_status()
        return int(r.json()["available"])

    def close(self) -> None:
        self.http.close()


class HttpTarget:
    """Seeds and checks through the service; the load goes over HTTP to a server that runs
    only during its own phase, so its pool never competes with the other phases'."""

    name = "stocksync HTTP"

    def __init__(self, inner: StocksyncTarget, database_url: str, schema: str,
                 clients: int) -> None:
        self.inner = inner
        self.server = partial(http_server, database_url, schema, clients)
        self.running = ExitStack()
        self.base_url = ""

    def prepare(self, sku: str, on_hand: int) -> None:
        self.inner.prepare(sku, on_hand)
        self.inner.idle()
        self.base_url = self.running.enter_context(self.server())

    def clients(self, count: int, sku: str) -> list[Client]:
        key = self.inner.tenant.api_key
        return [HttpReserver(self.base_url, key, sku) for _ in range(count)]

    def reader(self, sku: str) -> Reader:
        return HttpReader(self.base_url, self.inner.tenant.api_key, sku)

    def check(self, sku: str, acknowledged: int) -> Check:
        self.running.close()  # the server's last transactions are over before we count
        return self.inner.check(sku, acknowledged)

    def idle(self) -> None:
        self.running.close()
        self.inner.idle()


@contextmanager
def http_server(database_url: str, schema: str, clients: int) -> Iterator[str]:
    """`create_app()` under uvicorn in its own process, so client threads and the server
    do not share one interpreter lock; workers off, as in the other phases."""
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": database_url,
           "STOCKSYNC_DATABASE_SCHEMA": schema, "STOCKSYNC_RUN_WORKERS": "false",
           "STOCKSYNC_DB_POOL_SIZE": str(clients), "STOCKSYNC_LOG_LEVEL": "warning"}
    with uvicorn_app(env) as url:
        yield url


# ---- phases, report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    phase: str
    implementation: str
    clients: int
    seconds: float
    ok_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    read_p50_ms: float | None
    read_p99_ms: float | None
    ok: int
    refused: int
    errors: int
    oversells: int
    problems: list[str]
    first_error: str | None


def measure(target: Target, phase: str, sku: str, *, clients: int, on_hand: int,
            warmup: float, seconds: float, until_refused: bool = False) -> Row:
    """One phase; a phase that cannot even start (server down, no connections left) is
    reported as a row of errors so the other phases still run."""
    try:
        target.prepare(sku, on_hand)
        load = run_load(target.clients(clients, sku), target.reader(sku), warmup=warmup,
                        seconds=seconds, until_refused=until_refused)
        check = target.check(sku, load.ok_total)
    except Exception as exc:  # reported in the table, never fatal
        return Row(phase, target.name, clients, 0.0, 0.0, None, None, None, None, 0, 0, 1,
                   0, ["phase failed"], f"{type(exc).__name__}: {exc}"[:300])
    finally:
        with suppress(Exception):
            target.idle()
    problems = list(check.problems)
    if until_refused and load.ok_total != on_hand:
        problems.append(f"sold {load.ok_total} of {on_hand}")
    ok = load.ok_total if until_refused else load.ok_measured
    return Row(phase, target.name, clients, round(load.seconds, 2),
               round(ok / load.seconds, 1) if load.seconds else 0.0,
               percentile_ms(load.latencies, 0.50), percentile_ms(load.latencies, 0.99),
               percentile_ms(load.read_latencies, 0.50),
               percentile_ms(load.read_latencies, 0.99),
               load.ok_total, load.refused, load.errors, check.oversold, problems,
               load.first_error)


def run_all(targets: Sequence[Target], args: argparse.Namespace, rows: list[Row],
            console: Console) -> None:
    """Sell-out first (correctness), then the throughput phases, interleaved per repeat."""
    for target in targets:
        console.print(f"sell-out: {target.name}, {args.clients} clients, "
                      f"{SELLOUT_STOCK} units …")
        rows.append(measure(target, "sell-out", f"SELLOUT-{len(rows)}", clients=args.clients,
                            on_hand=SELLOUT_STOCK, warmup=0.0,
                            seconds=SELLOUT_LIMIT_SECONDS, until_refused=True))
    for rep in range(1, args.repeat + 1):
        for target in targets:
            console.print(f"throughput #{rep}: {target.name}, {args.clients} clients, "
                          f"{WARMUP_SECONDS:g} s warm-up + {args.seconds:g} s …")
            rows.append(measure(target, f"throughput #{rep}", f"HOT-{len(rows)}",
                                clients=args.clients, on_hand=THROUGHPUT_STOCK,
                                warmup=WARMUP_SECONDS, seconds=args.seconds))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def speedups(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    """Per implementation over the naive baseline, medians of the throughput rounds:
    ok/s ratio (higher is better) and p99 ratio (lower is better)."""
    rates: dict[str, list[float]] = {}
    p99s: dict[str, list[float]] = {}
    for row in rows:
        if row.phase.startswith("throughput") and row.ok_per_s and row.p99_ms is not None:
            rates.setdefault(row.implementation, []).append(row.ok_per_s)
            p99s.setdefault(row.implementation, []).append(row.p99_ms)
    if NaiveTarget.name not in rates:
        return {}
    base_rate = statistics.median(rates[NaiveTarget.name])
    base_p99 = statistics.median(p99s[NaiveTarget.name])
    return {name: {"ok_per_s": round(statistics.median(rates[name]) / base_rate, 2),
                   "p99": round(statistics.median(p99s[name]) / base_p99, 2)}
            for name in rates if name != NaiveTarget.name}


def print_report(rows: Sequence[Row], console: Console) -> None:
    table = Table(title="hot SKU: reservations of one SKU, one unit each")
    for col in ("phase", "implementation", "clients", "seconds", "reservations ok/s",
                "p50 ms", "p99 ms", "read p50 ms", "read p99 ms", "ok", "refused", "errors",
                "oversells", "checks"):
        table.add_column(col, justify="left" if col in ("phase", "implementation", "checks")
                         else "right")
    for r in rows:
        table.add_row(r.phase, r.implementation, str(r.clients), f"{r.seconds:.2f}",
                      f"{r.ok_per_s:,.1f}", _ms(r.p50_ms), _ms(r.p99_ms), _ms(r.read_p50_ms),
                      _ms(r.read_p99_ms), str(r.ok), str(r.refused), str(r.errors),
                      str(r.oversells), "; ".join(r.problems) or "ok")
    console.print(table)
    for name, ratio in speedups(rows).items():
        console.print(f"{name} / naive: [bold]{ratio['ok_per_s']:.2f}x[/bold] reservations "
                      f"ok/s, {ratio['p99']:.2f}x p99 latency (medians of the throughput rounds)")
    for r in rows:
        if r.first_error:
            console.print(f"[red]first error[/red] {r.phase} {r.implementation}: "
                          f"{r.first_error}")


def save(rows: Sequence[Row], args: argparse.Namespace, started: datetime,
         env: dict[str, object]) -> Path:
    return common.save("hot_sku", started, {
        "clients": args.clients, "seconds": args.seconds, "repeat": args.repeat,
        "http": args.http, "warmup_seconds": WARMUP_SECONDS,
        "throughput_stock": THROUGHPUT_STOCK, "sellout_stock": SELLOUT_STOCK,
    }, env, rows=[asdict(r) for r in rows], speedup=speedups(rows))


# ---- entry point ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("hot_sku", __doc__)
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument("--clients", type=int, default=64, help="concurrent clients")
    p.add_argument("--repeat", type=int, default=1, help="throughput rounds (median ratio)")
    p.add_argument("--http", action="store_true", help="also run the load through the API")
    args = p.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.repeat < 1:
        p.error("--clients and --repeat must be >= 1, --seconds > 0")
    if not args.database_url.startswith("postgresql"):
        p.error("this benchmark needs PostgreSQL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    url = make_url(args.database_url)
    base_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"bench_{secrets.token_hex(6)}"
    dsn = make_conninfo(base_dsn, options=f"-c search_path={schema}")
    env = common.environment(args.database_url, ("server_version", "synchronous_commit",
                                                 "max_connections", "shared_buffers"))
    rows: list[Row] = []
    svc: Stocksync | None = None
    with psycopg.connect(base_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            svc = build_service(Settings(database_url=args.database_url,
                                         database_schema=schema, run_workers=False,
                                         db_pool_size=args.clients))
            with svc.engine.begin() as conn:
                tenant = create_tenant(conn, "bench", svc.clock())
            with svc.uow(tenant.id) as uow:
                uow.catalog.put_location(Location(LOCATION, "Bench warehouse"), svc.clock())
                uow.commit()
            stocksync = StocksyncTarget(svc, tenant)
            targets: list[Target] = [stocksync, NaiveTarget(dsn)]
            if args.http:
                targets.append(HttpTarget(stocksync, args.database_url, schema, args.clients))
            run_all(targets, args, rows, console)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: partial results, schema dropped")
            print_report(rows, console)
            return 130
        finally:
            if svc is not None:
                svc.engine.dispose()
            try:
                admin.execute("SET lock_timeout = '15s'")
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            except psycopg.Error as exc:
                console.print(f"[red]could not drop schema {schema}[/red]: {exc}")
    print_report(rows, console)
    console.print(f"results: {save(rows, args, started, env)}")
    failed = any(r.oversells or r.problems for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
