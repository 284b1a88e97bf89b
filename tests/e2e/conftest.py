"""Stocksync with real channel simulators over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

SHOPIFY_TOKEN = "shpat_e2e_secret_token_123"
GENERIC_SECRET = "generic-e2e-secret-456"


@dataclass
class Sims:
    shopify: ServerThread
    generic: ServerThread
    shopify_location: str

    def shopify_state(self) -> dict[str, Any]:
        return httpx.get(self.shopify.url + "/_sim/state").json()

    def shopify_available(self, sku: str) -> int | None:
        return self.shopify_state()["available"].get(sku, {}).get(self.shopify_location)

    def generic_quantities(self) -> dict[str, int]:
        return httpx.get(self.generic.url + "/_sim/state").json()["quantities"]

    def add_products(self, skus: list[str]) -> None:
        for sku in skus:
            r = httpx.post(self.shopify.url + "/_sim/products", json={
                "sku": sku, "quantities": {self.shopify_location: 0}})
            assert r.status_code == 201, r.text


@pytest.fixture
def shopify_config() -> ShopifySimConfig:
    return ShopifySimConfig(access_token=SHOPIFY_TOKEN)


@pytest.fixture
def sims(shopify_config: ShopifySimConfig) -> Iterator[Sims]:
    with ServerThread(shopify_app(shopify_config)) as shop, ServerThread(
            generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))) as generic:
        location = str(httpx.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
        yield Sims(shop, generic, location)


def add_channels(client: httpx.Client, sims: Sims, locations: list[str],
                 shopify_rules: dict[str, Any] | None = None, verify: bool = True) -> None:
    r = client.post("/v1/channels", json={
        "code": "shop", "kind": "shopify", "name": "Shopify store", "locations": locations,
        "settings": {"shop_url": sims.shopify.url, "location_id": sims.shopify_location},
        "credentials": {"access_token": SHOPIFY_TOKEN}, "rules": shopify_rules or {}})
    assert r.status_code == 201, r.text
    r = client.post("/v1/channels" + ("" if verify else "?verify=false"), json={
        "code": "portal", "kind": "generic_http", "name": "B2B portal", "locations": locations,
        "settings": {"url": sims.generic.url + "/inventory"},
        "credentials": {"secret": GENERIC_SECRET}})
    assert r.status_code == 201, r.text


def eventually(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")
