"""The demo's channels: a Shopify simulator and a generic HTTP receiver, in-process, wired
to the demo tenant; then a POS-like sale, timed until each channel shows it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from rich.console import Console

from stocksync.app.demo import LOCATIONS, demo_items
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

SHOPIFY_TOKEN = "shpat_demo_token"
GENERIC_SECRET = "demo-portal-secret"
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


def start_simulators() -> DemoChannels:
    shop = ServerThread(shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN))).start()
    generic = ServerThread(generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))).start()
    location = str(httpx.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
    for item in demo_items():
        httpx.post(shop.url + "/_sim/products", json={
            "sku": item.sku, "title": item.title, "quantities": {location: 0}})
    return DemoChannels(shop, generic, location)


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
        expected = api.get(f"/v1/stock/{DEMO_SKU}").json()["available"]
        synced = _wait(lambda: sims.shopify_available(DEMO_SKU) == expected
                       and sims.generic_available(DEMO_SKU) == max(expected - 2, 0),
                       SYNC_TIMEOUT)
        if synced is None:
            console.print("[red]channels did not finish their first sync[/red]")
            return
        console.print(f"channels in sync ({len(demo_items())} SKUs pushed to each)")
        sent = time.perf_counter()
        api.post("/v1/movements", json={"type": "sale", "sku": DEMO_SKU, "location": "NYC_01",
                                        "quantity": 1}).raise_for_status()
        now_available = expected - 1
        console.print(f"POS sale recorded: 1 x {DEMO_SKU} at NYC_01; available now "
                      f"{now_available}")
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
