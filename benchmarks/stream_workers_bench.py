"""Sale -> channel end to end with channel workers fed by the event stream: 200 generic_http
channels shared by 1, 2 and 4 `stocksync worker` processes (STOCKSYNC_NATS_CHANNEL_CONSUMERS
=true: each channel reads its own durable consumer, one process holds a channel's lease).

Per run: a fresh PostgreSQL schema and stream; the API under uvicorn (sequencer and
publisher, no channel workers); a fast local receiver (benchmarks/fast_receiver.py, its
own process) behind every channel's URL; `--skus` items with 1,000 units each; N worker
processes. Once every channel shows the initial quantities, `--sales` sales are made one
at a time through `POST /v1/movements`, `--interval` seconds apart, round robin over the
SKUs. Latency of a (sale, channel) = the first push to that channel carrying the SKU at
the quantity after the sale (or lower) - the moment the sale request was sent. The load
average is sampled in the middle of the sales.

    .venv/bin/python -m benchmarks.stream_workers_bench [--workers 1 2 4] [--channels 200]
        [--skus 10] [--sales 20] [--interval 0.5] [--pool 5] [--nats-url URL]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import nats
import sqlalchemy as sa
from rich.table import Table

from benchmarks import common
from benchmarks.fast_receiver import start as start_receiver
from benchmarks.stream_bench import database, new_tenant, service

STOCK = 1000


def _arrivals(receiver_url: str) -> list[tuple[str, str, int, float]]:
    return [tuple(a) for a in httpx.get(receiver_url + "/_arrivals", timeout=60).json()]


def _showing(receiver_url: str, codes: list[str], expected: dict[str, int]) -> int:
    """How many channels' latest pushes show `expected` for every SKU."""
    latest: dict[tuple[str, str], int] = {}
    for path, sku, qty, _ in _arrivals(receiver_url):
        latest[(path, sku)] = qty
    return sum(all(latest.get((f"/{c}/inventory", s)) == q for s, q in expected.items())
               for c in codes)


def _wait_all(receiver_url: str, codes: list[str], expected: dict[str, int],
              seconds: float) -> float | None:
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        if _showing(receiver_url, codes, expected) == len(codes):
            return time.perf_counter() - began
        time.sleep(0.5)
    return None


def _owners(svc: Any, tenant_id: str) -> dict[str, int]:
    from stocksync.storage.tables import channels

    with svc.engine.connect() as conn:
        rows = conn.execute(sa.select(channels.c.lease_owner)
                            .where(channels.c.tenant_id == tenant_id)).scalars().all()
    return dict(Counter(str(r).split(":")[1] if r else "none" for r in rows))


def run(env: dict[str, str], workers: int, channel_count: int, sku_count: int,
        sales: int, interval: float, pool: int) -> dict[str, Any]:
    skus = [f"E-{i:02d}" for i in range(sku_count)]
    codes = [f"c{i:03d}" for i in range(channel_count)]
    port = common.free_port()
    receiver_url = f"http://127.0.0.1:{port}"
    receiver = start_receiver(port)
    procs: list[subprocess.Popen[bytes]] = []
    api_env = env | {"STOCKSYNC_RUN_CHANNEL_WORKERS": "false", "STOCKSYNC_DB_POOL_SIZE": "8"}
    try:
        with common.uvicorn_app(api_env, stdout=subprocess.DEVNULL) as url:
            svc = service(env)
            tenant_id, key = new_tenant(svc)
            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                timeout=30)
            http.put("/v1/locations/WH", json={"name": "WH"}).raise_for_status()
            for sku in skus:
                http.put(f"/v1/items/{sku}", json={"title": sku}).raise_for_status()
                http.post("/v1/movements", json={"type": "receive", "sku": sku,
                                                 "location": "WH", "quantity": STOCK}
                          ).raise_for_status()
            for code in codes:
                http.post("/v1/channels", json={
                    "code": code, "kind": "generic_http", "name": code, "locations": ["WH"],
                    "settings": {"url": f"{receiver_url}/{code}/inventory"},
                    "credentials": {"secret": "bench-secret"}}).raise_for_status()
            # Each process may open up to 3 x the pool size; 4 processes at the default (20)
            # would pass PostgreSQL's max_connections (100) on a shared server.
            worker_env = env | {"STOCKSYNC_NATS_CHANNEL_CONSUMERS": "true",
                                "STOCKSYNC_CHANNEL_SWEEP_SECONDS": "30",
                                "STOCKSYNC_DB_POOL_SIZE": str(pool)}
            began = time.perf_counter()
            procs = [subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "worker"],
                                      env=worker_env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for _ in range(workers)]
            level = dict.fromkeys(skus, STOCK)
            first_sync = _wait_all(receiver_url, codes, level, 600)
            if first_sync is None:
                raise RuntimeError(f"the first sync of {channel_count} channels did not end")
            first_sync = time.perf_counter() - began
            time.sleep(2.0)  # quiet: leases settled, nothing in flight
            owners = _owners(svc, tenant_id)
            sent: list[tuple[str, int, float]] = []
            load: list[float] = []
            for n in range(sales):
                sku = skus[n % len(skus)]
                level[sku] -= 1
                at = time.time()
                http.post("/v1/movements", json={"type": "sale", "sku": sku, "location": "WH",
                                                 "quantity": 1}).raise_for_status()
                sent.append((sku, level[sku], at))
                if n == sales // 2:
                    load = [round(x, 2) for x in os.getloadavg()]
                time.sleep(max(0.0, at + interval - time.time()))
            converged = _wait_all(receiver_url, codes, level, 300)
            arrivals = _arrivals(receiver_url)
            http.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        receiver.terminate()
    latencies, slowest_per_sale, missing = _latencies(arrivals, codes, sent)
    svc.engine.dispose()
    return {"workers": workers, "channels": channel_count, "sales": sales,
            "interval_s": interval, "first_sync_s": first_sync,
            "converged": converged is not None, "leases": owners, "missing": missing,
            "p50_ms": common.percentile_ms(latencies, 0.5),
            "p99_ms": common.percentile_ms(latencies, 0.99),
            "max_ms": max(latencies) * 1000 if latencies else None,
            "all_channels_p50_ms": common.percentile_ms(slowest_per_sale, 0.5),
            "all_channels_max_ms": max(slowest_per_sale) * 1000 if slowest_per_sale else None,
            "load_average": load}


def _latencies(arrivals: list[tuple[str, str, int, float]], codes: list[str],
               sent: list[tuple[str, int, float]]) -> tuple[list[float], list[float], int]:
    """Per (sale, channel) the delay to the first push that shows it; per sale the delay
    until every channel showed it; and how many (sale, channel) pairs never did."""
    by_channel: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for path, sku, qty, at in arrivals:
        by_channel.setdefault((path, sku), []).append((at, qty))
    latencies: list[float] = []
    slowest: list[float] = []
    missing = 0
    for sku, qty, at in sent:
        worst = 0.0
        for code in codes:
            shown = next((t for t, q in by_channel.get((f"/{code}/inventory", sku), [])
                          if t >= at and q <= qty), None)
            if shown is None:
                missing += 1
                continue
            latencies.append(shown - at)
            worst = max(worst, shown - at)
        slowest.append(worst)
    return latencies, slowest, missing


def _drop_stream(url: str, stream: str) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()
    try:
        asyncio.run(go())
    except Exception as exc:  # never created (the run failed early): nothing to drop
        print(f"stream {stream} not dropped: {exc}", file=sys.stderr)


def main() -> None:
    p = common.argument_parser("stream_workers_bench", __doc__)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--channels", type=int, default=200)
    p.add_argument("--skus", type=int, default=10)
    p.add_argument("--sales", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--pool", type=int, default=5, help="STOCKSYNC_DB_POOL_SIZE of a worker")
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    args = p.parse_args()
    console, started = common.begin()
    common.warn_if_busy(console)
    results: list[dict[str, Any]] = []
    for workers in args.workers:
        with database("postgres", args.database_url) as env:
            env["STOCKSYNC_NATS_URL"] = args.nats_url
            try:
                results.append(run(env, workers, args.channels, args.skus, args.sales,
                                   args.interval, args.pool))
            finally:
                _drop_stream(args.nats_url, env["STOCKSYNC_NATS_STREAM"])
        console.print(results[-1])
    shown = Table(title=f"sale -> channel, {args.channels} generic_http channels fed by the "
                  f"stream (PostgreSQL, {args.sales} sales {args.interval:g} s apart)")
    for column in ("workers", "leases per process", "first sync s", "p50 ms", "p99 ms",
                   "max ms", "all channels p50 ms", "missing", "load"):
        shown.add_column(column, justify="right")
    for r in results:
        shown.add_row(str(r["workers"]), " ".join(str(v) for v in sorted(
            r["leases"].values(), reverse=True)), common.number(r["first_sync_s"]),
            common.number(r["p50_ms"]), common.number(r["p99_ms"]),
            common.number(r["max_ms"]), common.number(r["all_channels_p50_ms"]),
            str(r["missing"]), " ".join(map(str, r["load_average"])))
    console.print(shown)
    saved = common.save("stream_workers_bench", started, vars(args),
                        common.environment(args.database_url), runs=results)
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()
