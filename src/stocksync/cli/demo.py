"""The demo's channels: a Shopify simulator and a generic HTTP receiver, in-process, wired
to the demo tenant, and a till (a `pos` channel); then a sale sent by the till as a signed
POS webhook, timed until each channel shows it."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from rich.console import Console

from stocksync.app.demo import LOCATIONS, demo_items, key_file_for, seed_demo
from stocksync.app.service import Stocksync
from stocksync.cli.common import EXIT_FAILED, console, fail
from stocksync.config import Settings
from stocksync.ingest.pos import EVENT, pos_signature
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

SHOPIFY_TOKEN = "shpat_demo_token"
GENERIC_SECRET = "demo-portal-secret"
TILL_SECRET = "demo-till-secret"
TILL_CODE, TILL_STORE, TILL_LOCATION = "nyc-till", "1", "NYC_01"
DEMO_SKU = "TEE-BLA-M"
SYNC_TIMEOUT = 60.0


@dataclass
class DemoChannels:
    shopify: ServerThread
    generic: ServerThread
    location_id: str

    def shopify_available(self, sku: str) -> int | None:
        state = httpx.get(self.shopify.url + "/_sim/state").json()
        return state["available"].get(sku, {}).get(self.location_id)

    def generic_available(self, sku: str) -> int | None:
        return httpx.get(self.generic.url + "/_sim/state").json()["quantities"].get(sku)


def check_port_free(host: str, port: int) -> None:
    """Exit 1 with a clear message when something already listens on host:port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # as uvicorn binds: a port left in TIME_WAIT by an earlier run is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(f"cannot listen on {host}:{port} ({exc.strerror}): is another "
                       f"stocksync (or `make demo`) running there? Stop it, or choose "
                       f"another port (--port N, make demo PORT=N). Nothing was changed.",
                       EXIT_FAILED) from exc


def start_demo(svc: Stocksync, cfg: Settings) -> None:
    """Demo tenant and data, simulated channels and a till, and a timed POS sale once
    serving. Call after check_port_free."""
    key_file = key_file_for(cfg.database_url)
    seeded = seed_demo(svc, key_file)
    base = f"http://{cfg.host}:{cfg.port}"
    console.print(f"demo tenant [bold]{seeded.name}[/bold] ({seeded.tenant_id}) ready: "
                  f"{seeded.items} items at WH_MAIN and NYC_01", highlight=False)
    console.print(f"API key: [bold]{seeded.api_key}[/bold] "
                  f"({'kept' if seeded.key_reused else 'new, saved'} in {key_file})",
                  soft_wrap=True, highlight=False)
    console.print(f"try:  curl -s -H 'Authorization: Bearer {seeded.api_key}' "
                  f"{base}/v1/stock/TEE-BLA-M", soft_wrap=True, highlight=False)
    console.print(f"      stocksync reconcile --tenant {seeded.name}", highlight=False)
    sims = start_simulators()
    threading.Thread(target=run_demo_sale, args=(base, seeded.api_key, sims, console),
                     daemon=True).start()


def start_simulators() -> DemoChannels:
    shop = ServerThread(shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN))).start()
    generic = ServerThread(generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))).start()
    location = str(httpx.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
    for item in demo_items():
        httpx.post(shop.url + "/_sim/products", json={
            "sku": item.sku, "title": item.title, "quantities": {location: 0}})
    return DemoChannels(shop, generic, location)


def wire_till(api: httpx.Client) -> str:
    """Create the demo's till (once); its webhook path."""
    found = api.get(f"/v1/channels/{TILL_CODE}")
    if found.status_code == 404:
        found = api.post("/v1/channels", json={
            "code": TILL_CODE, "kind": "pos", "name": "New York till (demo)",
            "locations": [TILL_LOCATION], "settings": {f"store.{TILL_STORE}": TILL_LOCATION},
            "credentials": {"webhook_secret": TILL_SECRET}})
    found.raise_for_status()
    path: str = found.json()["webhook_path"]
    return path


def till_sale(base_url: str, webhook_path: str, sku: str, quantity: int) -> str:
    """Sell like a till: a signed POS_TRANSACTION_COMPLETE; its transaction id."""
    transaction = f"demo-{uuid.uuid4().hex[:12]}"
    body = json.dumps({
        "event": EVENT, "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "store_id": TILL_STORE, "transaction_id": transaction,
        "line_items": [{"sku": sku, "quantity_change": -quantity}]}).encode()
    httpx.post(base_url + webhook_path, content=body, timeout=10, headers={
        "Content-Type": "application/json",
        "X-POS-Signature": pos_signature(TILL_SECRET, body)}).raise_for_status()
    return transaction


def wire_channels(api: httpx.Client, sims: DemoChannels) -> None:
    """Create (or re-point and re-sync) the demo's two channels."""
    locations = [loc.code for loc in LOCATIONS]
    specs = [
        {"code": "shopify", "kind": "shopify", "name": "Shopify store (simulated)",
         "settings": {"shop_url": sims.shopify.url, "location_id": sims.location_id},
         "credentials": {"access_token": SHOPIFY_TOKEN}},
        {"code": "portal", "kind": "generic_http", "name": "B2B portal (simulated)",
         "settings": {"url": sims.generic.url + "/inventory"},
         "credentials": {"secret": GENERIC_SECRET}, "rules": {"safety_buffer": 2}},
    ]
    for spec in specs:
        code = spec["code"]
        if api.get(f"/v1/channels/{code}").status_code == 404:
            api.post("/v1/channels", json={**spec, "locations": locations}).raise_for_status()
        else:  # simulators are new every run: point at them and push everything again
            api.patch(f"/v1/channels/{code}", json={
                "settings": spec["settings"], "credentials": spec["credentials"]}
            ).raise_for_status()
            api.post(f"/v1/channels/{code}/resync").raise_for_status()


def _wait(check: Callable[[], bool], timeout: float) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if check():
            return time.perf_counter() - start
        time.sleep(0.001)
    return None


def _serving(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def run_demo_sale(base_url: str, api_key: str, sims: DemoChannels, console: Console) -> None:
    """Runs beside the server: wire channels, wait for the initial sync, sell one unit at
    the New York store like a POS would, and report how fast each channel saw it."""
    if _wait(lambda: _serving(base_url), 30) is None:
        console.print("[red]the API did not come up; demo channels not wired[/red]")
        return
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"},
                      timeout=10) as api:
        wire_channels(api, sims)
        till_path = wire_till(api)
        expected = api.get(f"/v1/stock/{DEMO_SKU}").json()["available"]
        synced = _wait(lambda: sims.shopify_available(DEMO_SKU) == expected
                       and sims.generic_available(DEMO_SKU) == max(expected - 2, 0),
                       SYNC_TIMEOUT)
        if synced is None:
            console.print("[red]channels did not finish their first sync[/red]")
            return
        console.print(f"channels in sync ({len(demo_items())} SKUs pushed to each)")
        sent = time.perf_counter()
        transaction = till_sale(base_url, till_path, DEMO_SKU, 1)
        now_available = expected - 1
        console.print(f"POS sale sent by the {TILL_CODE} till (transaction {transaction}): "
                      f"1 x {DEMO_SKU} at {TILL_LOCATION}; available now {now_available}",
                      highlight=False)
        checks = {
            "shopify": lambda: sims.shopify_available(DEMO_SKU) == now_available,
            "portal": lambda: sims.generic_available(DEMO_SKU) == max(now_available - 2, 0),
        }
        seen: dict[str, float] = {}
        while len(seen) < len(checks) and time.perf_counter() - sent < 10:
            for name, check in checks.items():
                if name not in seen and check():
                    seen[name] = time.perf_counter() - sent
            time.sleep(0.0005)
        for name in checks:
            took = f"{seen[name] * 1000:.1f} ms" if name in seen else "not seen within 10 s"
            console.print(f"  {name:8s} has the new quantity {took} after the sale was sent")
        console.print(f"Shopify simulator: {sims.shopify.url}/_sim/state   "
                      f"portal: {sims.generic.url}/_sim/state", soft_wrap=True)
