"""Stock for agents: MCP tool call latency over streamable HTTP, and the storefront
availability endpoint under concurrent load.

A stocksync server runs in its own process (workers on) on a fresh database with one
tenant, 200 SKUs at one location and one generic channel. Then:
- `mcp`: one MCP client session (the SDK's streamable-HTTP client) calls get_availability
  for 1 SKU, for 20 SKUs, and reserve_stock + release_reservation, one after another;
- `storefront`: `--concurrency` clients read GET /storefront/v1/availability (one SKU,
  drawn at random) with a publishable key for `--seconds`, then again sending the ETag
  back (304s).

    .venv/bin/python -m benchmarks.agents_bench [--database sqlite|postgres] [--calls 300]
        [--concurrency 32] [--seconds 15] [--database-url URL]
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.table import Table

from benchmarks import common

SKUS = [f"SKU-{i:04d}" for i in range(200)]


def prepare(env: dict[str, str]) -> str:
    """Migrate, create the tenant; returns its secret key."""
    from stocksync.bootstrap import build_service
    from stocksync.config import Settings
    from stocksync.storage.tenants import create_tenant

    svc = build_service(Settings.from_env(env))
    with svc.engine.begin() as conn:
        key = create_tenant(conn, "bench", svc.clock()).api_key
    svc.engine.dispose()
    return key


def stock(url: str, key: str) -> str:
    """Items, stock and a channel through the API; returns a publishable key."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as c:
        c.put("/v1/locations/WH", json={"name": "WH"}).raise_for_status()
        for sku in SKUS:
            c.put(f"/v1/items/{sku}", json={"title": sku}).raise_for_status()
            c.post("/v1/movements", json={"type": "receive", "sku": sku, "location": "WH",
                                          "quantity": 1000}).raise_for_status()
        c.post("/v1/channels?verify=false", json={
            "code": "web", "kind": "generic_http", "name": "web", "locations": ["WH"],
            "settings": {"url": "http://127.0.0.1:9/stock"},
            "credentials": {"secret": "bench-secret-bench"}}).raise_for_status()
        answer: str = c.post("/v1/publishable-keys").json()["publishable_key"]
        return answer


async def mcp_latency(url: str, key: str, calls: int) -> dict[str, list[float]]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    samples: dict[str, list[float]] = {"get_availability 1 SKU": [],
                                       "get_availability 20 SKUs": [],
                                       "reserve_stock": [], "release_reservation": []}
    rng = random.Random(1)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                  timeout=60) as http, \
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()

        async def timed(name: str, tool: str, args: dict[str, Any]) -> Any:
            started = time.perf_counter()
            result = await session.call_tool(tool, args)
            samples[name].append(time.perf_counter() - started)
            assert not result.is_error, result.content
            return result.structured_content

        for _ in range(calls):
            await timed("get_availability 1 SKU", "get_availability",
                        {"skus": [rng.choice(SKUS)]})
            await timed("get_availability 20 SKUs", "get_availability",
                        {"skus": rng.sample(SKUS, 20)})
            held = await timed("reserve_stock", "reserve_stock", {
                "sku": rng.choice(SKUS), "quantity": 1, "location": "WH",
                "idempotency_key": uuid.uuid4().hex})
            await timed("release_reservation", "release_reservation", {
                "reservation_id": held["reservation"]["id"],
                "idempotency_key": uuid.uuid4().hex})
    return samples


async def storefront_load(url: str, pk: str, concurrency: int, seconds: float,
                          revalidate: bool) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    etags: dict[str, str] = {}
    deadline = time.perf_counter() + seconds

    async def reader(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={
                "Authorization": f"Bearer {pk}"}) as c:
            while time.perf_counter() < deadline:
                sku = rng.choice(SKUS)
                headers = {"If-None-Match": etags[sku]} if revalidate and sku in etags else {}
                started = time.perf_counter()
                r = await c.get("/storefront/v1/availability", params={"sku": sku},
                                headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    etags[sku] = r.headers["ETag"]

    await asyncio.gather(*(reader(n) for n in range(concurrency)))
    return latencies, statuses.get(200, 0) + statuses.get(304, 0), \
        sum(v for k, v in statuses.items() if k not in (200, 304))


def main() -> None:
    p = common.argument_parser("agents_bench", __doc__)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--calls", type=int, default=300, help="rounds of MCP calls")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--seconds", type=float, default=15.0)
    args = p.parse_args()
    console, started = common.begin()
    common.warn_if_busy(console)
    from cryptography.fernet import Fernet

    folder = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    env = {"STOCKSYNC_SECRET_KEY": Fernet.generate_key().decode(),
           "STOCKSYNC_RECONCILE_MINUTES": "0", "STOCKSYNC_LOG_LEVEL": "warning",
           # The benchmark measures the endpoint, not the per-key limit.
           "STOCKSYNC_STOREFRONT_RATE_PER_SECOND": "1000000",
           "STOCKSYNC_STOREFRONT_BURST": "1000000",
           "PATH": __import__("os").environ.get("PATH", "")}
    schema = None
    if args.database == "sqlite":
        env["STOCKSYNC_DATABASE_URL"] = f"sqlite:///{folder / 'bench.db'}"
    else:
        schema = f"agents_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(args.database_url).begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        env |= {"STOCKSYNC_DATABASE_URL": args.database_url,
                "STOCKSYNC_DATABASE_SCHEMA": schema}
    try:
        key = prepare(env)
        with common.uvicorn_app(env) as url:
            pk = stock(url, key)
            mcp = asyncio.run(mcp_latency(url, key, args.calls))
            plain = asyncio.run(storefront_load(url, pk, args.concurrency, args.seconds, False))
            cached = asyncio.run(storefront_load(url, pk, args.concurrency, args.seconds, True))
    finally:
        if schema is not None:
            with sa.create_engine(args.database_url).begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    shown = Table(title=f"MCP tool calls over streamable HTTP ({args.database}, "
                  f"{args.calls} each, one session)")
    for column in ("tool", "p50 ms", "p99 ms"):
        shown.add_column(column, justify="left" if column == "tool" else "right")
    results: dict[str, Any] = {"mcp": {}, "storefront": {}}
    for name, values in mcp.items():
        p50, p99 = common.percentile_ms(values, 0.5), common.percentile_ms(values, 0.99)
        results["mcp"][name] = {"p50_ms": p50, "p99_ms": p99, "calls": len(values)}
        shown.add_row(name, common.number(p50), common.number(p99))
    console.print(shown)
    load = Table(title=f"storefront availability, {args.concurrency} concurrent readers, "
                 f"{args.seconds:g} s each")
    for column in ("case", "reads/s", "p50 ms", "p99 ms", "errors"):
        load.add_column(column, justify="left" if column == "case" else "right")
    for case, (values, ok, bad) in (("200 (no ETag sent)", plain),
                                    ("If-None-Match (mostly 304)", cached)):
        p50, p99 = common.percentile_ms(values, 0.5), common.percentile_ms(values, 0.99)
        rate = ok / args.seconds
        results["storefront"][case] = {"p50_ms": p50, "p99_ms": p99, "reads_per_second": rate,
                                       "errors": bad}
        load.add_row(case, common.number(rate, 0), common.number(p50), common.number(p99),
                     str(bad))
    console.print(load)
    path = common.save("agents_bench", started, vars(args),
                       common.environment(args.database_url if schema else None), **results)
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()
