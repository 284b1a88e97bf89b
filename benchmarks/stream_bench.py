"""The event stream on NATS JetStream: how fast the publisher empties a backlog, the delay
from commit to an outside consumer at a steady 1,000 and 5,000 events/s, and what
publishing costs the write path (the goal: nothing; publishing is off the request path).

1. publish: N events are written and sequenced first, then one publisher round sends them
   (pipelined, acknowledged by JetStream, cursor stored per batch): events/s.
2. latency: a `stocksync worker` process (sequencer + publisher, as in production),
   `--writers` writer processes (default 2) that sell through the application layer in
   process (the hot path `POST /v1/movements` runs for a sale, without HTTP: one HTTP
   writer cannot produce 5,000 events/s), each on its own SKUs at target/writers a second,
   submitted concurrently in 10 ms ticks so that sales of one level coalesce into one
   transaction as under real load; and an ordered consumer of the tenant's subjects in its
   own process; latency = message received - event recorded (its
   `Stocksync-Recorded-At`, taken just before the commit). Load average sampled mid-run.
3. write path: `POST /v1/movements` one at a time against the API (uvicorn, workers in the
   same process), with STOCKSYNC_NATS_URL unset and set: p50/p99.

    .venv/bin/python -m benchmarks.stream_bench [--database sqlite|postgres] [--events N]
        [--rates 1000 5000] [--seconds S] [--writers W] [--requests M] [--nats-url URL]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import sqlalchemy as sa
from rich.table import Table

from benchmarks import common
from benchmarks.stream_probe import backlog, consume

SKUS = [f"B-{i:03d}" for i in range(50)]


@contextmanager
def database(kind: str, pg_url: str) -> Iterator[dict[str, str]]:
    """STOCKSYNC_* variables of a fresh database, dropped afterwards."""
    from cryptography.fernet import Fernet

    stream = f"BENCH_{uuid.uuid4().hex[:8]}"
    env = {"STOCKSYNC_SECRET_KEY": Fernet.generate_key().decode(),
           "STOCKSYNC_RECONCILE_MINUTES": "0", "STOCKSYNC_LOG_LEVEL": "warning",
           "STOCKSYNC_NATS_STREAM": stream, "STOCKSYNC_NATS_SUBJECT_PREFIX": stream.lower(),
           "PATH": os.environ.get("PATH", "")}
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="stream-bench-"))
        env["STOCKSYNC_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
        yield env
        return
    schema = f"stream_{uuid.uuid4().hex[:10]}"
    with sa.create_engine(pg_url).begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield env | {"STOCKSYNC_DATABASE_URL": pg_url, "STOCKSYNC_DATABASE_SCHEMA": schema}
    finally:
        with sa.create_engine(pg_url).begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


def service(env: dict[str, str]) -> Any:
    from stocksync.bootstrap import build_service
    from stocksync.config import Settings

    return build_service(Settings.from_env(env))


def new_tenant(svc: Any) -> tuple[str, str]:
    from stocksync.storage.tenants import create_tenant

    with svc.engine.begin() as conn:
        made = create_tenant(conn, f"bench-{uuid.uuid4().hex[:6]}", svc.clock())
    return made.id, made.api_key


def stock_up(url: str, key: str) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        c.put("/v1/locations/WH", json={"name": "WH"}).raise_for_status()
        for sku in SKUS:
            c.put(f"/v1/items/{sku}", json={"title": sku}).raise_for_status()


def write(svc: Any, tenant_id: str, count: int, start: int = 0) -> None:
    """`count` receipts in one transaction, through the ledger's write path."""
    from stocksync.app.handlers import Movement, record_movement
    from stocksync.app.records import WriteContext

    with svc.uow(tenant_id) as uow:
        ctx = WriteContext(tenant_id=tenant_id, now=svc.clock(), source="bench")
        for i in range(start, start + count):
            record_movement(uow, ctx, Movement("receive", SKUS[i % len(SKUS)], "WH", 1))
        uow.commit()


def publish_throughput(env: dict[str, str], events: int) -> dict[str, float]:
    from stocksync.storage.sequencer import drain
    from stocksync.stream.publisher import Publisher
    from stocksync.stream.setup import connect

    with common.uvicorn_app(env | {"STOCKSYNC_RUN_WORKERS": "false"}) as url:
        svc = service(env)
        tenant_id, key = new_tenant(svc)
        stock_up(url, key)
    for start in range(0, events, 500):
        write(svc, tenant_id, min(500, events - start), start)
    drain(svc.engine)
    publisher = Publisher(svc.engine, svc.settings, svc.clock)

    async def run() -> tuple[int, float]:
        nc = await connect(svc.settings.nats_url)
        try:
            js = nc.jetstream()
            await publisher.prepare(js)
            began = time.perf_counter()
            done = await publisher.publish_pending(js)
            return done, time.perf_counter() - began
        finally:
            await nc.jetstream().delete_stream(svc.settings.nats_stream)
            await nc.close()

    done, seconds = asyncio.run(run())
    svc.engine.dispose()
    return {"events": done, "seconds": seconds, "per_second": done / seconds,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def fill(svc: Any, tenant_id: str) -> None:
    """Enough stock that the sales of a run never run out."""
    from stocksync.app.handlers import Movement, record_movement
    from stocksync.app.records import WriteContext

    with svc.uow(tenant_id) as uow:
        ctx = WriteContext(tenant_id=tenant_id, now=svc.clock(), source="bench")
        for sku in SKUS:
            record_movement(uow, ctx, Movement("receive", sku, "WH", 10_000_000))
        uow.commit()


async def sell_at(svc: Any, tenant_id: str, skus: list[str], rate: float,
                  seconds: float) -> tuple[int, float]:
    """Sales through the application's hot path (app/hot.py, what `POST /v1/movements`
    runs for a sale, minus HTTP): submitted concurrently, `rate` a second in 10 ms ticks;
    concurrent sales of one level are coalesced into one transaction, as under real load."""
    from stocksync.api.hot import hot_path_for
    from stocksync.app.service import RequestMeta

    hot = hot_path_for(svc)
    meta = RequestMeta(source="bench")
    per_tick = max(1, round(rate * 0.01))
    pending: set[asyncio.Task[Any]] = set()
    began = time.perf_counter()
    written = 0
    while time.perf_counter() - began < seconds:
        for i in range(written, written + per_tick):
            pending.add(asyncio.create_task(hot.sell(
                tenant_id, meta, skus[i % len(skus)], "WH", 1, lambda _: (201, None),
                lambda _: (409, None))))
        written += per_tick
        pending = {t for t in pending if not t.done()}
        await asyncio.sleep(max(0.0, written / rate - (time.perf_counter() - began)))
    await asyncio.gather(*pending)
    took = time.perf_counter() - began
    await hot.close()
    return written, took


def writer(env: dict[str, str], tenant_id: str, skus: list[str], rate: float,
           seconds: float, go: Any, out: Any) -> None:
    """In its own process: sales on its own SKUs (no level shared with another writer)."""
    from stocksync.logs import configure

    configure("warning")  # a log line per sale would cost the writer more than the sale
    svc = service(env)
    go.wait(60)
    out.put(asyncio.run(sell_at(svc, tenant_id, skus, rate, seconds)))
    svc.engine.dispose()


def latency_at(env: dict[str, str], rate: int, seconds: float,
               writers: int) -> dict[str, Any]:
    from stocksync.stream.subjects import tenant_filter

    with common.uvicorn_app(env | {"STOCKSYNC_RUN_WORKERS": "false"}) as url:
        svc = service(env)
        tenant_id, key = new_tenant(svc)
        stock_up(url, key)
    fill(svc, tenant_id)
    worker = subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "worker"],
                              env=env | {"STOCKSYNC_SEQUENCER_SWEEP_SECONDS": "0.01"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = svc.settings
    mp = multiprocessing.get_context("spawn")
    expected, ready, out = mp.Value("l", 0), mp.Event(), mp.Queue()
    consumer = mp.Process(target=consume, args=(
        settings.nats_url, settings.nats_stream,
        tenant_filter(settings.nats_subject_prefix, tenant_id), expected, ready, out))
    consumer.start()
    go, done = mp.Event(), mp.Queue()
    procs = [mp.Process(target=writer, args=(env, tenant_id, SKUS[w::writers],
                                             rate / writers, seconds, go, done))
             for w in range(writers)]
    for proc in procs:
        proc.start()
    samples: list[float] = []
    stored: list[float] = []
    first = last = 0.0
    queued: dict[str, int] = {}
    load: list[float] = []
    try:
        ready.wait(30)
        time.sleep(2.0)  # the writers have imported stocksync and connected
        go.set()
        time.sleep(seconds / 2)
        load = [round(x, 2) for x in os.getloadavg()]
        results = [done.get(timeout=seconds + 120) for _ in procs]
        queued = backlog(svc, tenant_id, settings.nats_stream)
        written = sum(n for n, _ in results)
        wrote_for = max(t for _, t in results)
        expected.value = written
        samples, stored, first, last = out.get(timeout=180)
    finally:
        for proc in procs:
            proc.join(10)
        consumer.join(10)
        worker.terminate()
        worker.wait(10)

        async def drop() -> None:
            nc = await nats.connect(settings.nats_url)
            await nc.jetstream().delete_stream(settings.nats_stream)
            await nc.close()
        asyncio.run(drop())
        svc.engine.dispose()
    return {"target": rate, "writers": writers, "written": written,
            "achieved": written / wrote_for, "received": len(samples),
            "delivered_per_second": len(samples) / (last - first) if last > first else 0.0,
            "p50_ms": common.percentile_ms(samples, 0.5),
            "p99_ms": common.percentile_ms(samples, 0.99),
            "max_ms": max(samples) * 1000 if samples else None,
            "to_stream_p50_ms": common.percentile_ms(stored, 0.5),
            "to_stream_p99_ms": common.percentile_ms(stored, 0.99),
            "queued_when_writers_stopped": queued, "load_average": load}


def write_path(env: dict[str, str], requests: int, nats_url: str | None) -> dict[str, Any]:
    run_env = dict(env)
    if nats_url is None:
        run_env.pop("STOCKSYNC_NATS_URL", None)
    latencies: list[float] = []
    with common.uvicorn_app(run_env) as url:
        svc = service(run_env)
        _, key = new_tenant(svc)
        svc.engine.dispose()
        stock_up(url, key)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=30) as c:
            for i in range(requests):
                began = time.perf_counter()
                c.post("/v1/movements", json={"type": "receive", "sku": SKUS[i % len(SKUS)],
                                              "location": "WH", "quantity": 1}
                       ).raise_for_status()
                latencies.append(time.perf_counter() - began)
    if nats_url is not None:
        async def drop() -> None:
            nc = await nats.connect(nats_url)
            await nc.jetstream().delete_stream(env["STOCKSYNC_NATS_STREAM"])
            await nc.close()
        asyncio.run(drop())
    return {"publishing": nats_url is not None, "requests": requests,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "p50_ms": common.percentile_ms(latencies, 0.5),
            "p99_ms": common.percentile_ms(latencies, 0.99)}


def main() -> None:
    p = common.argument_parser("stream_bench", __doc__)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--rates", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--writers", type=int, default=2, help="writer processes (latency)")
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    args = p.parse_args()
    console, started = common.begin()
    common.warn_if_busy(console)
    with database(args.database, args.database_url) as env:
        env["STOCKSYNC_NATS_URL"] = args.nats_url
        published = publish_throughput(env, args.events)
    rates = []
    for rate in args.rates:
        with database(args.database, args.database_url) as env:
            env["STOCKSYNC_NATS_URL"] = args.nats_url
            rates.append(latency_at(env, rate, args.seconds, args.writers))
    paths = []
    for nats_url in (None, args.nats_url):
        with database(args.database, args.database_url) as env:
            env["STOCKSYNC_NATS_URL"] = args.nats_url
            paths.append(write_path(env, args.requests, nats_url))

    shown = Table(title=f"publishing a backlog ({args.database})")
    for column in ("events", "seconds", "events/s", "load"):
        shown.add_column(column, justify="right")
    shown.add_row(f"{published['events']:,}", common.number(published["seconds"], 2),
                  common.number(published["per_second"], 0),
                  " ".join(map(str, published["load_average"])))
    console.print(shown)
    shown = Table(title=f"committed -> outside consumer ({args.database}, "
                  f"{args.seconds:g} s each)")
    for column in ("target/s", "writers", "committed/s", "events", "received",
                   "received/s", "p50 ms", "p99 ms", "max ms", "in stream p50/p99 ms",
                   "at the end: unsequenced/unpublished", "load"):
        shown.add_column(column, justify="right")
    for r in rates:
        shown.add_row(f"{r['target']:,}", str(r["writers"]), common.number(r["achieved"], 0),
                      f"{r['written']:,}", f"{r['received']:,}",
                      common.number(r["delivered_per_second"], 0), common.number(r["p50_ms"]),
                      common.number(r["p99_ms"]), common.number(r["max_ms"]),
                      f"{common.number(r['to_stream_p50_ms'])} / "
                      f"{common.number(r['to_stream_p99_ms'])}",
                      "{unsequenced:,} / {unpublished:,}".format(
                          **r["queued_when_writers_stopped"]),
                      " ".join(map(str, r["load_average"])))
    console.print(shown)
    shown = Table(title=f"POST /v1/movements, one at a time ({args.database})")
    for column in ("publishing", "requests", "p50 ms", "p99 ms", "load"):
        shown.add_column(column, justify="right")
    for r in paths:
        shown.add_row("on" if r["publishing"] else "off", str(r["requests"]),
                      common.number(r["p50_ms"], 2), common.number(r["p99_ms"], 2),
                      " ".join(map(str, r["load_average"])))
    console.print(shown)
    saved = common.save("stream_bench", started, vars(args),
                        common.environment(args.database_url if args.database == "postgres"
                                           else None),
                        publish=published, latency=rates, write_path=paths)
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
