"""Every sale comes back (issue 9), per selling platform, over real HTTP: the real server
and its workers against each platform's simulator and a generic HTTP channel.

For Shopify, WooCommerce, Square, eBay and Amazon (orders polled every second or two,
webhooks wired through a tap that can deliver them again):
- a sale at the platform is sold in the ledger once and reaches the other channel;
- a webhook delivered again and the same order polled again change nothing;
- units given back with a restock come back once, without one nothing comes back;
- sales at the platform racing sales through the API and stocksync's pushes end exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.config import Settings
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from tests.conftest import (
    METRICS_TOKEN,
    TEST_SECRET,
    LiveServer,
    Tenant,
    postgres_settings,
    seed,
    settle,
)
from tests.e2e.channel_stacks import PLATFORMS, Platform
from tests.e2e.conftest import GENERIC_SECRET, eventually

STOCK = 40  # received per SKU: more than every test sells, so nothing sells out
SKUS = ["TEE", "CAP"]
PLATFORM_NAMES = ["shopify", "woocommerce", "square", "ebay", "amazon"]

@pytest.fixture
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """SQLite unless a test asks for PostgreSQL (only the race does: concurrent ingest
    workers claim deliveries differently there)."""
    if getattr(request, "param", "sqlite") == "postgres":
        yield from postgres_settings()
        return
    yield Settings(database_url=f"sqlite:///{tmp_path / 'stocksync.db'}", run_workers=False,
                   secret_key=TEST_SECRET, reconcile_minutes=0, metrics_token=METRICS_TOKEN)


@dataclass
class World:
    """A live stocksync selling on one platform and on a generic HTTP channel."""

    platform: Platform
    generic: ServerThread
    client: httpx.Client
    server: LiveServer

    def on_hand(self, sku: str) -> int:
        value: int = self.client.get(f"/v1/stock/{sku}").json()["on_hand"]
        return value

    def available(self, sku: str) -> int:
        value: int = self.client.get(f"/v1/stock/{sku}").json()["available"]
        return value

    def portal(self, sku: str) -> int | None:
        value: int | None = httpx.get(self.generic.url + "/_sim/state").json()[
            "quantities"].get(sku)
        return value

    def everywhere(self, sku: str, quantity: int) -> bool:
        """The ledger, the platform and the other channel all show `quantity`."""
        return (self.available(sku) == quantity and self.platform.shown(sku) == quantity
                and self.portal(sku) == quantity)

    def views(self) -> dict[str, Any]:
        """What each side shows now (for a failure message)."""
        return {"ledger": {sku: self.available(sku) for sku in SKUS},
                "platform": {sku: self.platform.shown(sku) for sku in SKUS},
                "portal": {sku: self.portal(sku) for sku in SKUS},
                "expected": self.client.get(f"/v1/channels/{self.platform.code}/skus").json(),
                "adjusted": [(e["sku"], e["quantity"], e["data"].get("reason"))
                             for e in self.client.get("/v1/events", params={
                                 "type": "stock.adjusted", "limit": 1000}).json()["events"]]}

    def shows_everywhere(self, final: dict[str, int], timeout: float = 15) -> None:
        try:
            eventually(lambda: all(self.everywhere(sku, n) for sku, n in final.items()),
                       timeout=timeout)
        except AssertionError:
            raise AssertionError(f"not everywhere {final}: {self.views()}") from None

    def converged(self) -> bool:
        return all(self.platform.shown(sku) == self.available(sku) == self.portal(sku)
                   for sku in SKUS)

    def polls_later(self, count: int = 2) -> None:
        """Wait until the platform's orders have been polled `count` more times."""
        seen: list[Any] = []

        def polled_again() -> bool:
            at = self.status()["orders_polled_at"]
            if at is not None and at not in seen:
                seen.append(at)
            return len(seen) > count

        eventually(polled_again, timeout=10, what=f"{count} more order polls")

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.client.get(
            f"/v1/channels/{self.platform.code}").json()["status"]
        return found

    def events(self, kind: str) -> list[dict[str, Any]]:
        settle(self.server.svc)
        found: list[dict[str, Any]] = self.client.get(
            "/v1/events", params={"type": kind, "limit": 1000}).json()["events"]
        return found

    def sold_here(self) -> list[int]:
        source = f"{self.platform.kind}:{self.platform.code}"
        return [abs(e["quantity"]) for e in self.events("stock.sold")
                if e["source"] == source]

    def assert_clean(self) -> None:
        """Nothing refused, nothing parked, no platform limit broken."""
        assert self.client.get("/v1/inbox", params={"status": "failed"}).json() == []
        conflicts = self.events("conflict.detected")
        assert conflicts == [], [c["data"] for c in conflicts]
        violations = self.platform.admin.get("/_sim/violations")
        if violations.status_code == 200:
            assert violations.json()["count"] == 0, violations.json()
        status = self.status()
        assert status["orders_error"] is None and status["parked"] == 0, status


@pytest.fixture
def world(request: pytest.FixtureRequest, server: LiveServer, client: httpx.Client
          ) -> Iterator[World]:
    seed(client, {sku: {"WH": STOCK} for sku in SKUS})
    with ExitStack() as stack:
        platform = PLATFORMS[request.param](stack)
        generic = stack.enter_context(ServerThread(generic_app(
            GenericHttpSimConfig(secret=GENERIC_SECRET))))
        for sku in SKUS:
            platform.add(sku)
        platform.connect(client, server.url, ["WH"])
        r = client.post("/v1/channels", json={
            "code": "portal", "kind": "generic_http", "name": "B2B portal",
            "locations": ["WH"], "settings": {"url": generic.url + "/inventory"},
            "credentials": {"secret": GENERIC_SECRET}})
        assert r.status_code == 201, r.text
        found = World(platform, generic, client, server)
        eventually(lambda: all(found.everywhere(sku, STOCK) for sku in SKUS), timeout=20,
                   what="the first push to both channels")
        yield found


def sold_at_platform(world: World, sku: str, quantity: int) -> float:
    """Sell at the platform; seconds until the ledger has it (at most one poll interval
    and some slack for a loaded machine)."""
    before = world.on_hand(sku)
    started = time.monotonic()
    world.platform.sell(sku, quantity)
    eventually(lambda: world.on_hand(sku) == before - quantity, timeout=10,
               what="the platform's sale in the ledger")
    latency = time.monotonic() - started
    print(f"{world.platform.kind}: sale -> ledger {latency:.2f} s")
    assert latency < float(world.platform.poll_seconds) + 2.0
    return latency


@pytest.mark.parametrize("world", PLATFORM_NAMES, indirect=True)
def test_a_sale_at_the_platform_is_sold_once_and_reaches_the_other_channel(
        world: World) -> None:
    sold_at_platform(world, "TEE", 3)
    left = STOCK - 3
    eventually(lambda: world.everywhere("TEE", left), what="the sale on every channel")
    # The platform delivers its webhooks again, and its orders are read again.
    again = world.platform.tap.deliver_again()
    assert set(again) <= {"duplicate"}, again
    world.polls_later()
    eventually(world.converged, what="everything settled")
    assert world.on_hand("TEE") == left and world.everywhere("TEE", left)
    assert world.everywhere("CAP", STOCK)
    assert world.sold_here() == [3]
    world.assert_clean()


GIVE_BACK = [(name, True) for name in PLATFORM_NAMES] + [
    (name, False) for name in PLATFORM_NAMES if name != "ebay"] + [("ebay-no-relist", False)]


@pytest.mark.parametrize(("world", "restock"), GIVE_BACK, indirect=["world"])
def test_units_given_back_with_a_restock_come_back_once_and_without_one_never(
        world: World, restock: bool) -> None:
    platform = world.platform
    before = world.on_hand("TEE")
    started = time.monotonic()
    sale = platform.sell("TEE", 2)
    eventually(lambda: world.on_hand("TEE") == before - 2, what="the sale")
    eventually(lambda: world.everywhere("TEE", before - 2))
    back = platform.give_back(sale, 2, restock)
    assert back == (2 if restock else 0)
    if back:
        eventually(lambda: world.on_hand("TEE") == before, timeout=10,
                   what="the restocked units in the ledger")
        print(f"{platform.kind}: restock -> ledger "
              f"{time.monotonic() - started:.2f} s after the sale")
    world.polls_later()
    platform.tap.deliver_again()
    world.polls_later(1)
    eventually(world.converged, what="everything settled")
    assert world.everywhere("TEE", before - 2 + back)
    assert world.on_hand("TEE") == before - 2 + back
    adjusted = [e for e in world.events("stock.adjusted")
                if e["source"] == f"{platform.kind}:{platform.code}"]
    assert sum(e["quantity"] for e in adjusted) == back, adjusted
    world.assert_clean()


RACE = PLATFORM_NAMES


@pytest.mark.parametrize("world", RACE, indirect=True)
def test_sales_at_the_platform_and_through_the_api_racing_pushes_end_exact(
        world: World, tenant: Tenant) -> None:
    race(world, tenant)


@pytest.mark.parametrize("db_settings", ["postgres"], indirect=True)
@pytest.mark.parametrize("world", RACE, indirect=True)
def test_the_race_ends_exact_on_postgresql_too(world: World, tenant: Tenant) -> None:
    race(world, tenant)


def race(world: World, tenant: Tenant) -> None:
    """Per SKU, buyers at the platform and another channel (POST /v1/movements) sell at
    once for about two seconds while stocksync pushes every change to both channels."""
    at_platform = {sku: 0 for sku in SKUS}
    through_api = {sku: 0 for sku in SKUS}

    def buyers(sku: str) -> None:
        for i in range(6):
            world.platform.sell(sku, 1 + i % 2)
            at_platform[sku] += 1 + i % 2
            time.sleep(0.25)

    def other_channel(sku: str) -> None:
        with httpx.Client(base_url=world.server.url, headers=tenant.headers,
                          timeout=30) as api:
            for _ in range(12):
                r = api.post("/v1/movements", json={"type": "sale", "sku": sku,
                                                     "location": "WH", "quantity": 1})
                assert r.status_code == 201, r.text
                through_api[sku] += 1
                time.sleep(0.12)

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(work, sku) for work in (buyers, other_channel) for sku in SKUS]
        for done in running:
            done.result(timeout=30)
    final = {sku: STOCK - at_platform[sku] - through_api[sku] for sku in SKUS}
    try:
        eventually(lambda: all(world.on_hand(sku) == final[sku] for sku in SKUS), timeout=15,
                   what="every sale in the ledger")
    except AssertionError as exc:
        got = {sku: world.on_hand(sku) for sku in SKUS}
        api = httpx.Client(base_url=world.server.url, headers=tenant.headers)
        inbox = [(d["topic"], d["status"], d["last_error"]) for d in api.get(
            "/v1/inbox", params={"limit": 1000}).json() if d["status"] != "done"]
        adjusted = [(e["sku"], e["quantity"], e["data"].get("reason")) for e in api.get(
            "/v1/events", params={"type": "stock.adjusted", "limit": 1000}).json()["events"]]
        raise AssertionError(f"{exc}: ledger {got}, want {final}, platform {at_platform}, "
                             f"api {through_api}; inbox not done {inbox}; "
                             f"adjustments {adjusted}") from exc
    world.shows_everywhere(final)
    world.polls_later()
    assert all(world.everywhere(sku, final[sku]) for sku in SKUS)
    assert sum(world.sold_here()) == sum(at_platform.values())
    world.assert_clean()
