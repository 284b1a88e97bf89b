"""Content sync: a catalog edit of --skus items (title + price) reaching Shopify, eBay,
Amazon, WooCommerce and Square: calls per channel, time to converge, limit violations.

The real app (`create_app()` under uvicorn in a subprocess, workers on, see
`benchmarks.propagation`) syncs content to the five simulators running in this process.

    .venv/bin/python -m benchmarks.content_bench [--skus 1000] [--shopify-restore 100]

1. --skus items seeded with a title and a price; channels created; content sync (title,
   price; out) switched on; wait until every channel shows every item's content (the first
   content sync: each channel starts with its own titles and prices).
2. The edit: every item gets a new title and price through `PUT /v1/items` (16 threads).
3. Wait until every channel shows every new title and price (`/_sim/catalog`, polled every
   POLL_SECONDS). Calls: the content calls each simulator logged from the edit to
   convergence (every call, by endpoint, is in the saved JSON). Violations: each
   simulator's `/_sim/violations`, and Shopify's THROTTLED
   answers (its bucket restores --shopify-restore points/s: 100 is the Standard plan's
   published rate; the simulator's own default, 50, is the older published figure).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from rich.table import Table

from benchmarks import common
from benchmarks.marketplaces import RequestLog, endpoint, polling
from benchmarks.propagation import LOCATION, database, seed, stocksync_server
from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

Json = dict[str, Any]
SHOPIFY_TOKEN = "shpat_content_bench_token"
SQUARE_LOCATION = "LSTOCKSYNC001"
POLL_SECONDS = 0.5
CONVERGE_SECONDS = 900.0
SKU_IN_PATH = re.compile(r"CT-\d{4}")
CONTENT = {"types": {"title": {"enabled": True, "direction": "out"},
                     "price": {"enabled": True, "direction": "out"}}}


def title_of(sku: str, round_: int) -> str:
    return f"{sku} edition {round_}"


def price_of(round_: int) -> str:
    return f"{10 + round_}.50"


# ---- what each simulator shows: sku -> (title, price as "12.50") -----------------------------

def shopify_shown(c: Json) -> dict[str, tuple[str, str]]:
    return {v["sku"]: (p["title"], v["price"]) for p in c["products"] for v in p["variants"]}


def ebay_shown(c: Json) -> dict[str, tuple[str, str]]:
    return {s: (i.get("title"), (i.get("price") or {}).get("value")) for s, i in c["items"].items()}


def amazon_shown(c: Json) -> dict[str, tuple[str, str]]:
    out = {}
    for sku, a in c["items"].items():
        name = (a.get("item_name") or [{}])[0].get("value")
        offer = (a.get("purchasable_offer") or [{}])[0]
        value = ((offer.get("our_price") or [{}])[0].get("schedule") or [{}])[0].get(
            "value_with_tax")
        out[sku] = (name, f"{value:.2f}" if isinstance(value, float | int) else None)
    return out


def woo_shown(c: Json) -> dict[str, tuple[str, str]]:
    return {s: (i["name"], i["regular_price"]) for s, i in c["items"].items()}


def square_shown(c: Json) -> dict[str, tuple[str, str]]:
    return {s: (i["name"], f"{i['price_cents'] / 100:.2f}") for s, i in c["items"].items()}


@dataclass(frozen=True, slots=True)
class Store:
    code: str
    kind: str
    sim: ServerThread
    settings: dict[str, str]
    credentials: dict[str, str]
    shown: Callable[[Json], dict[str, tuple[str, str]]]

    def behind(self, http: httpx.Client, skus: Sequence[str], round_: int) -> int:
        shown = self.shown(http.get(self.sim.url + "/_sim/catalog").json())
        want = (price_of(round_),)
        return sum(shown.get(s) != (title_of(s, round_), *want) for s in skus)


def stores(stack: ExitStack, skus: Sequence[str], restore: float) -> list[Store]:
    def serve(app: Any) -> ServerThread:
        return stack.enter_context(ServerThread(app))

    shop = serve(shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN,
                                              restore_rate=restore)))
    sims = {"ebay": serve(ebay.create_app()),
            "amazon": serve(amazon.create_app(AmazonSimConfig(feed_processing_delay_s=0.5))),
            "woo": serve(woocommerce.create_app()), "square": serve(square.create_app())}
    with httpx.Client(timeout=30) as http:
        location = str(http.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
        for sku in skus:
            http.post(shop.url + "/_sim/products", json={
                "sku": sku, "title": "old", "quantities": {location: 0}}).raise_for_status()
            for sim in sims.values():
                http.post(sim.url + "/_sim/items",
                          json={"sku": sku, "quantity": 0}).raise_for_status()
    az = sims["amazon"].url
    return [
        Store("shop", "shopify", shop, {"shop_url": shop.url, "location_id": location},
              {"access_token": SHOPIFY_TOKEN}, shopify_shown),
        Store("ebay-us", "ebay", sims["ebay"], {"api_url": sims["ebay"].url},
              {"client_id": "stocksync-sim-app", "client_secret": "stocksync-sim-cert",
               "refresh_token": "v^1.1#i^1#stocksync-sim-refresh"}, ebay_shown),
        Store("amazon-us", "amazon", sims["amazon"],
              {"endpoint": az, "token_url": az + "/auth/o2/token",
               "seller_id": "A1STOCKSYNCSIM", "marketplace_id": "ATVPDKIKX0DER"},
              {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
               "lwa_client_secret": "stocksync-sim-client-secret",
               "refresh_token": "Atzr|stocksync-sim-refresh-token"}, amazon_shown),
        Store("woo", "woocommerce", sims["woo"], {"store_url": sims["woo"].url},
              {"consumer_key": "ck_stocksync_simulator",
               "consumer_secret": "cs_stocksync_simulator"}, woo_shown),
        Store("square", "square", sims["square"],
              {"base_url": sims["square"].url, "location_id": SQUARE_LOCATION},
              {"access_token": "EAAAEstocksyncSimulatorAccessToken"}, square_shown),
    ]


def edit(base_url: str, key: str, skus: Sequence[str], round_: int) -> None:
    def put(sku: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as c:
            r = c.put(f"/v1/items/{sku}", json={"title": title_of(sku, round_),
                                                "price": price_of(round_), "currency": "USD"})
            r.raise_for_status()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, skus))


def converge(found: Sequence[Store], skus: Sequence[str], round_: int, since: float,
             http: httpx.Client) -> dict[str, float | None]:
    done: dict[str, float | None] = {}
    deadline = since + CONVERGE_SECONDS
    while len(done) < len(found) and time.perf_counter() < deadline:
        for s in found:
            if s.code not in done and s.behind(http, skus, round_) == 0:
                done[s.code] = round(time.perf_counter() - since, 1)
        time.sleep(POLL_SECONDS)
    return {s.code: done.get(s.code) for s in found}


# The calls content sync makes (the rest of a log is the quantity path's own work).
CONTENT_CALLS = {
    "shopify": ("mutation productUpdate", "mutation productVariantsBulkUpdate",
                "query productVariants"),
    "ebay": ("GET /sell/inventory/v1/inventory_item/{sku}",
             "PUT /sell/inventory/v1/inventory_item/{sku}",
             "POST /sell/inventory/v1/bulk_update_price_quantity", "GET /sell/inventory/v1/offer"),
    "amazon": ("patchListingsItem",),
    "woocommerce": ("POST /wp-json/wc/v3/products/batch", "GET /wp-json/wc/v3/products"),
    "square": ("POST /v2/catalog/search", "POST /v2/catalog/batch-upsert",
               "POST /v2/catalog/object"),
}


def named(r: Json) -> str:
    return SKU_IN_PATH.sub("{sku}", endpoint(r))


def violations(s: Store, log: RequestLog, http: httpx.Client) -> int:
    if s.kind == "shopify":
        return sum(r.get("outcome") == "throttled" for r in log.seen.values())
    return int(http.get(s.sim.url + "/_sim/violations").json()["count"])


def run(args: argparse.Namespace) -> tuple[list[Json], Json]:
    skus = [f"CT-{i:04d}" for i in range(args.skus)]
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="content-")))
        settings = stack.enter_context(database("sqlite", "", workdir,
                                                Fernet.generate_key().decode()))
        tenant = seed(settings, dict.fromkeys(skus, 5))
        found = stores(stack, skus, args.shopify_restore)
        log_file = stack.enter_context((workdir / "server.log").open("w"))
        base_url = stack.enter_context(stocksync_server(settings, log_file))
        api = stack.enter_context(httpx.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {tenant.api_key}"}))
        http = stack.enter_context(httpx.Client(timeout=30))
        edit(base_url, tenant.api_key, skus, 0)
        for s in found:
            api.post("/v1/channels", json={
                "code": s.code, "kind": s.kind, "name": s.code, "locations": [LOCATION],
                "settings": s.settings, "credentials": s.credentials}).raise_for_status()
            api.patch(f"/v1/channels/{s.code}/content", json=CONTENT).raise_for_status()
        first = converge(found, skus, 0, time.perf_counter(), http)
        logs = {s.code: RequestLog(s.sim.url) for s in found}
        for log in logs.values():
            log.start(http)
        with polling(list(logs.values())):
            started = time.perf_counter()
            edit(base_url, tenant.api_key, skus, 1)
            edited = round(time.perf_counter() - started, 1)
            times = converge(found, skus, 1, started, http)
            time.sleep(2.0)
        rows = []
        for s in found:
            logs[s.code].poll(http)
            calls = Counter(named(r) for r in logs[s.code].seen.values())
            content = sum(n for k, n in calls.items() if k in CONTENT_CALLS[s.kind])
            rows.append({"channel": s.code, "first_sync_s": first[s.code],
                         "converge_s": times[s.code], "calls": content,
                         "calls_by_endpoint": dict(calls.most_common()),
                         "violations": violations(s, logs[s.code], http),
                         "log_wrapped": logs[s.code].wrapped})
    return rows, {"edit_seconds": edited, "skus": len(skus)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = common.argument_parser("content_bench", __doc__, database_url=False)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--shopify-restore", type=float, default=100.0)
    args = parser.parse_args(argv)
    console, started = common.begin()
    common.warn_if_busy(console)
    rows, info = run(args)
    table = Table(title=f"content sync: {info['skus']:,} items edited (title + price) in "
                        f"{info['edit_seconds']} s")
    for column in ("channel", "first sync s", "converge s", "content calls",
                   "calls per item", "violations"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["channel"], str(r["first_sync_s"]), str(r["converge_s"]),
                      str(r["calls"]), f"{r['calls'] / info['skus']:.2f}", str(r["violations"]))
    console.print(table)
    path = common.save("content_bench", started, vars(args), common.environment(),
                       rows=rows, info=info)
    console.print(f"saved {path}")
    return 0 if all(r["violations"] == 0 and r["converge_s"] is not None for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
