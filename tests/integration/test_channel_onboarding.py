"""A channel is stored only once its platform accepted the credentials: each connector asks
its simulator (which answers a wrong token exactly as the platform does) before the
channel is created or its credentials change."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import ShopifySimConfig
from stocksync.simulators.shopify import create_app as shopify_app


@dataclass(frozen=True)
class Platform:
    kind: str
    app: Callable[[], FastAPI]
    settings: Callable[[str], dict[str, str]]  # simulator URL -> channel settings
    credentials: dict[str, str]  # what the simulator accepts
    wrong: dict[str, str]  # one credential changed


PLATFORMS = [
    Platform("shopify", lambda: shopify_app(ShopifySimConfig(access_token="shpat_right")),
             lambda url: {"shop_url": url, "location_id": "1"},
             {"access_token": "shpat_right"}, {"access_token": "shpat_wrong"}),
    Platform("woocommerce", woocommerce.create_app, lambda url: {"store_url": url},
             {"consumer_key": "ck_stocksync_simulator",
              "consumer_secret": "cs_stocksync_simulator"},
             {"consumer_secret": "cs_wrong"}),
    Platform("square", square.create_app,
             lambda url: {"base_url": url, "location_id": "LSTOCKSYNC001"},
             {"access_token": "EAAAEstocksyncSimulatorAccessToken"},
             {"access_token": "EAAAEwrong"}),
    Platform("ebay", ebay.create_app, lambda url: {"api_url": url},
             {"client_id": "stocksync-sim-app", "client_secret": "stocksync-sim-cert",
              "refresh_token": "v^1.1#i^1#stocksync-sim-refresh"},
             {"refresh_token": "v^1.1#i^1#revoked"}),
    Platform("amazon", amazon.create_app,
             lambda url: {"endpoint": url, "token_url": url + "/auth/o2/token",
                          "seller_id": "A1STOCKSYNCSIM", "marketplace_id": "ATVPDKIKX0DER"},
             {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
              "lwa_client_secret": "stocksync-sim-client-secret",
              "refresh_token": "Atzr|stocksync-sim-refresh-token"},
             {"refresh_token": "Atzr|revoked"}),
    Platform("generic_http", lambda: generic_app(GenericHttpSimConfig(secret="right-secret")),
             lambda url: {"url": url + "/inventory"}, {"secret": "right-secret"},
             {"secret": "wrong-secret"}),
]


@pytest.fixture
def store(client: httpx.Client) -> httpx.Client:
    assert client.put("/v1/locations/NYC", json={"name": "NYC"}).status_code in (200, 201)
    return client


@pytest.fixture(params=PLATFORMS, ids=[p.kind for p in PLATFORMS])
def platform(request: pytest.FixtureRequest) -> Iterator[tuple[Platform, str]]:
    spec: Platform = request.param
    with ServerThread(spec.app()) as sim:
        yield spec, sim.url


def channel(kind: str, settings: dict[str, str], credentials: dict[str, str]
            ) -> dict[str, Any]:
    return {"code": "ch", "kind": kind, "name": kind, "locations": ["NYC"],
            "settings": settings, "credentials": credentials}


def test_wrong_credentials_are_refused_by_the_platform_and_nothing_is_stored(
        store: httpx.Client, platform: tuple[Platform, str]) -> None:
    spec, url = platform
    r = store.post("/v1/channels", json=channel(
        spec.kind, spec.settings(url), {**spec.credentials, **spec.wrong}))
    assert r.status_code == 422, r.text
    error = r.json()
    assert error["error"] == "credentials_refused"
    assert " refused the credentials" in error["message"], error["message"]
    assert error["details"]["platform"] == spec.kind
    assert store.get("/v1/channels/ch").status_code == 404
    assert store.get("/v1/channels").json() == []


def test_right_credentials_create_the_channel(store: httpx.Client,
                                              platform: tuple[Platform, str]) -> None:
    spec, url = platform
    r = store.post("/v1/channels", json=channel(spec.kind, spec.settings(url),
                                                spec.credentials))
    assert r.status_code == 201, r.text
    assert store.get("/v1/channels/ch").json()["has_credentials"] is True


def test_patching_in_wrong_credentials_is_refused_and_the_old_ones_are_kept(
        store: httpx.Client, platform: tuple[Platform, str]) -> None:
    spec, url = platform
    settings = spec.settings(url)
    assert store.post("/v1/channels", json=channel(spec.kind, settings, spec.credentials)
                      ).status_code == 201
    r = store.patch("/v1/channels/ch", json={"credentials": spec.wrong})
    assert r.status_code == 422 and r.json()["error"] == "credentials_refused", r.text
    # The stored credentials are still the right ones: checking them again passes.
    r = store.patch("/v1/channels/ch", json={"settings": settings, "name": "renamed"})
    assert r.status_code == 200 and r.json()["name"] == "renamed", r.text


def test_an_amazon_seller_id_the_token_is_not_for_is_refused(store: httpx.Client) -> None:
    spec = next(p for p in PLATFORMS if p.kind == "amazon")
    with ServerThread(spec.app()) as sim:
        r = store.post("/v1/channels", json=channel(
            "amazon", {**spec.settings(sim.url), "seller_id": "A2SOMEONEELSE"},
            spec.credentials))
    assert r.status_code == 422 and r.json()["error"] == "credentials_refused", r.text
    assert "403" in r.json()["message"]


def test_an_unreachable_platform_is_a_502_unless_verification_is_skipped(
        store: httpx.Client) -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    body = channel("shopify", {"shop_url": closed, "location_id": "1"},
                   {"access_token": "shpat_any"})
    r = store.post("/v1/channels", json=body)
    assert r.status_code == 502, r.text
    assert r.json()["error"] == "channel_unreachable"
    assert "verify=false" in r.json()["message"]
    assert store.get("/v1/channels/ch").status_code == 404
    r = store.post("/v1/channels", params={"verify": "false"}, json=body)
    assert r.status_code == 201, r.text


def test_a_till_has_nothing_to_check(store: httpx.Client) -> None:
    r = store.post("/v1/channels", json=channel("pos", {"store.12": "NYC"},
                                                {"webhook_secret": "till-secret"}))
    assert r.status_code == 201, r.text
