"""EbayConnector against the eBay simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from stocksync.channels.base import PushReport, QuantitySet, RateLimited, Rejected
from stocksync.channels.ebay import DAILY_REVISION_CAP, REVISION_CAP_REASON, EbayConnector
from stocksync.simulators.ebay import EbaySimConfig, EbaySimState, create_app
from tests.contract.conftest import Serve
from tests.contract.connector_contract import ConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector

CLIENT_ID = "contract-app"
CLIENT_SECRET = "contract-cert"
REFRESH_TOKEN = "v^1.1#contract-refresh"
BULK_UPDATE = "/sell/inventory/v1/bulk_update_price_quantity"
OFFERS = "/sell/inventory/v1/offer"
TOKEN = "/identity/v1/oauth2/token"
T = TypeVar("T")


@dataclass
class Seller(SimulatorHarness):
    sim: EbaySimState

    def add(self, sku: str, quantity: int, **spec: Any) -> dict[str, Any]:
        response = self.admin.post("/_sim/items", json={"sku": sku, "quantity": quantity,
                                                        **spec})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def buy(self, sku: str, quantity: int, marketplace_id: str | None = None
            ) -> dict[str, Any]:
        response = self.admin.post("/_sim/orders", json={
            "sku": sku, "quantity": quantity, "marketplace_id": marketplace_id})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def item(self, sku: str) -> dict[str, Any]:
        item: dict[str, Any] = self.state()["items"][sku]
        return item

    def revisions(self, listing_id: str) -> int:
        return int(self.state()["revisions"].get(listing_id, 0))

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        return self.requests_where("path", path)

    def connect(self, work: Callable[[EbayConnector], Awaitable[T]], **kwargs: Any) -> T:
        timeout = kwargs.pop("timeout", 5.0)
        secret = kwargs.pop("client_secret", CLIENT_SECRET)
        refresh = kwargs.pop("refresh_token", REFRESH_TOKEN)
        return run_connector(lambda client: EbayConnector(
            client, self.url, CLIENT_ID, secret, refresh, **kwargs), work, timeout)


@pytest.fixture
def start_seller(serve: Serve) -> Callable[..., Seller]:
    def start(**config: Any) -> Seller:
        app = create_app(EbaySimConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                       refresh_token=REFRESH_TOKEN, **config))
        server, admin = serve(app)
        return Seller(server, admin, app.state.sim)

    return start


@pytest.fixture
def seller(start_seller: Callable[..., Seller]) -> Seller:
    return start_seller()


def push(*changes: tuple[str, int]) -> Callable[[EbayConnector], Awaitable[PushReport]]:
    async def work(c: EbayConnector) -> PushReport:
        await c.discover_mapping([sku for sku, _ in changes])
        return await c.set_quantities([QuantitySet(sku, qty) for sku, qty in changes])
    return work


def test_offers_are_mapped_by_sku_both_levels_are_set_and_read_back(seller: Seller) -> None:
    mug = seller.add("MUG", 4)
    seller.add("CAP", 1)
    seller.add("DRAFT", 2, published=False)
    seller.add("UNLISTED", 5, offer=False)

    async def work(c: EbayConnector) -> tuple[dict[str, str], PushReport, dict[str, int]]:
        found = await c.discover_mapping(["MUG", "CAP", "DRAFT", "UNLISTED", "GHOST"])
        report = await c.set_quantities([QuantitySet("MUG", 7), QuantitySet("CAP", 0),
                                         QuantitySet("DRAFT", 3)])
        seller.admin.put("/_sim/inventory/CAP", json={"quantity": 2}).raise_for_status()
        return found, report, await c.fetch_quantities(
            ["MUG", "CAP", "DRAFT", "UNLISTED", "GHOST"])

    found, report, fetched = seller.connect(work)
    assert found == {"MUG": mug["offerId"], "CAP": seller.item("CAP")["offers"][0]["offerId"]}
    assert report.acknowledged == {"MUG": 7, "CAP": 0}
    assert set(report.rejected) == {"DRAFT"}
    assert fetched == {"MUG": 7, "CAP": 2, "DRAFT": 2, "UNLISTED": 5}
    item = seller.item("MUG")
    assert (item["quantity"], item["offers"][0]["availableQuantity"]) == (7, 7)
    [call] = seller.requests(BULK_UPDATE)
    assert call["body"]["requests"][0] == {
        "sku": "MUG", "shipToLocationAvailability": {"quantity": 7},
        "offers": [{"offerId": mug["offerId"], "availableQuantity": 7}]}


def test_discovery_without_skus_pages_through_every_inventory_item(seller: Seller) -> None:
    skus = [f"SKU-{n:03}" for n in range(101)]
    for sku in skus:
        seller.add(sku, 1, offer=sku != "SKU-000")

    mapping = seller.connect(lambda c: c.discover_mapping())

    assert set(mapping) == set(skus) - {"SKU-000"}
    pages = seller.requests("/sell/inventory/v1/inventory_item")
    assert [r["status"] for r in pages] == [200, 200]


def test_25_skus_go_in_one_call_and_the_26th_in_the_next(seller: Seller) -> None:
    skus = [f"TEE-{n:02}" for n in range(26)]
    for sku in skus:
        seller.add(sku, 0)

    report = seller.connect(push(*[(sku, 3) for sku in skus]))

    assert EbayConnector.max_batch == 25
    assert report.acknowledged == dict.fromkeys(skus, 3)
    sizes = [len(r["body"]["requests"]) for r in seller.requests(BULK_UPDATE)]
    assert sizes == [25, 1]


def test_where_ebay_takes_one_sku_per_call_the_connector_falls_back_and_stays_there(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(skus_per_call=1)
    listings = {sku: seller.add(sku, 0)["listingId"] for sku in ("A", "B", "C")}

    async def work(c: EbayConnector) -> tuple[PushReport, PushReport, int]:
        first = await push(("A", 1), ("B", 2), ("C", 3))(c)
        second = await c.set_quantities([QuantitySet("A", 4), QuantitySet("B", 5)])
        return first, second, c.revisions_left("A")

    first, second, left = seller.connect(work)
    assert first.acknowledged == {"A": 1, "B": 2, "C": 3}
    assert second.acknowledged == {"A": 4, "B": 5}
    calls = seller.requests(BULK_UPDATE)
    assert [(r["status"], r["skus"]) for r in calls] == [
        (400, ["A", "B", "C"]), (200, ["A"]), (200, ["B"]), (200, ["C"]),
        (200, ["A"]), (200, ["B"])]
    assert [seller.revisions(listings[s]) for s in "ABC"] == [2, 2, 1]
    assert left == DAILY_REVISION_CAP - 2


def test_the_access_token_is_refreshed_before_it_expires(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(access_token_ttl_s=1.0)
    seller.add("LAMP", 1)

    async def work(c: EbayConnector) -> PushReport:
        await push(("LAMP", 2))(c)
        await asyncio.sleep(1.0)
        return await c.set_quantities([QuantitySet("LAMP", 3)])

    assert seller.connect(work).acknowledged == {"LAMP": 3}
    outcomes = [r["outcome"] for r in seller.requests()]
    assert outcomes.count("token_issued") == 2
    assert "expired_token" not in outcomes and "unauthorized" not in outcomes


@pytest.mark.parametrize("expired_status", [401, 403])
def test_a_token_ebay_no_longer_accepts_is_refreshed_once_and_the_call_retried(
        start_seller: Callable[..., Seller], expired_status: int) -> None:
    seller = start_seller(expired_token_status=expired_status)
    seller.add("VASE", 1)

    async def work(c: EbayConnector) -> PushReport:
        await push(("VASE", 2))(c)
        seller.faults(expire_tokens=True)
        return await c.set_quantities([QuantitySet("VASE", 5)])

    assert seller.connect(work).acknowledged == {"VASE": 5}
    # A push reads the SKU's offers first (every marketplace's share), so that is the
    # call that meets the expired token, is refused once and sent again.
    calls = [(r["path"], r["status"]) for r in seller.requests() if r["path"] != TOKEN]
    assert calls[-3:] == [(OFFERS, expired_status), (OFFERS, 200), (BULK_UPDATE, 200)]
    assert [r["outcome"] for r in seller.requests(TOKEN)] == ["token_issued"] * 2
    assert seller.item("VASE")["quantity"] == 5


def test_a_token_refused_again_after_refreshing_is_rejected(seller: Seller) -> None:
    seller.add("INK", 1)
    seller.faults(unauthorized_next_n=2)

    with pytest.raises(Rejected):
        seller.connect(lambda c: c.fetch_quantities(["INK"]))
    assert len(seller.requests(TOKEN)) == 2
    assert [r["outcome"] for r in seller.requests("/sell/inventory/v1/bulk_get_inventory_item")
            ] == ["unauthorized", "unauthorized"]


def test_a_revoked_refresh_token_is_rejected_at_the_token_endpoint(seller: Seller) -> None:
    with pytest.raises(Rejected):
        seller.connect(lambda c: c.fetch_quantities(["ANY"]), refresh_token="v^1.1#revoked")
    assert [r["outcome"] for r in seller.requests()] == ["token_refused"]


def test_a_burst_is_paced_within_the_call_quota(start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(call_limit=30, call_window_s=1.0, skus_per_call=1)
    skus = [f"BOX-{n:02}" for n in range(40)]
    for sku in skus:
        seller.add(sku, 0)

    started = time.monotonic()
    report = seller.connect(push(*[(sku, 9) for sku in skus]), call_limit=30,
                            call_window_s=1.0, skus_per_call=1)

    assert report.acknowledged == dict.fromkeys(skus, 9)
    # token, 40 getOffers to map, 40 getOffers read before writing (every marketplace's
    # share sets the item total), 40 bulk updates
    assert len(seller.requests()) == 121
    assert time.monotonic() - started > 3.0  # 120 calls at under 30 per second
    violations = seller.violations()
    assert violations["count"] == 0 and violations["rate_limited"] == 0


def test_beyond_the_quota_ebay_answers_429_and_counts_a_violation(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(call_limit=3, call_window_s=3600.0, retry_after_s=2.0)
    token = seller.admin.post(TOKEN, auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}).json()["access_token"]
    answers = [seller.admin.get("/sell/inventory/v1/inventory_item",
                                headers={"Authorization": f"Bearer {token}"})
               for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["errors"][0]["errorId"] == 2001
    assert seller.violations()["rate_limited"] == 1
    seller.faults(call_limit=1000, force_rate_limit=True)
    with pytest.raises(RateLimited) as caught:
        seller.connect(lambda c: c.fetch_quantities(["X"]))
    assert caught.value.retry_after == 2.0
    assert seller.violations()["count"] == 1  # a forced 429 is the platform's, not ours


def test_items_ebay_refuses_are_rejected_and_the_rest_acknowledged(seller: Seller) -> None:
    seller.add("OK-1", 1)
    seller.add("NEG-1", 1)

    async def work(c: EbayConnector) -> tuple[PushReport, int]:
        report = await push(("OK-1", 5), ("NEG-1", -2))(c)
        return report, c.revisions_left("NEG-1")

    report, left = seller.connect(work)
    assert report.acknowledged == {"OK-1": 5}
    assert report.rejected["NEG-1"].startswith("25709: Invalid value")
    assert left == DAILY_REVISION_CAP  # a refused update revised nothing
    assert seller.item("NEG-1")["quantity"] == 1
    assert [r["status"] for r in seller.requests(BULK_UPDATE)] == [207]


def test_the_connector_stops_at_the_daily_revision_cap_and_never_trips_ebays(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(revision_cap=3)
    solo = seller.add("SOLO", 0)
    shirt = seller.add("SHIRT-S", 0)
    seller.add("SHIRT-M", 0, listing_id=shirt["listingId"])  # one multi-variation listing

    async def work(c: EbayConnector) -> list[PushReport]:
        await c.discover_mapping(["SOLO", "SHIRT-S", "SHIRT-M"])
        reports = [await c.set_quantities([QuantitySet("SOLO", n)]) for n in range(4)]
        reports.append(await c.set_quantities([QuantitySet("SHIRT-S", 1)]))
        reports.append(await c.set_quantities([QuantitySet("SHIRT-M", 1)]))
        reports.append(await c.set_quantities([QuantitySet("SHIRT-S", 2),
                                               QuantitySet("SHIRT-M", 2)]))
        assert c.revisions_left("SOLO") == c.revisions_left("SHIRT-M") == 0
        return reports

    reports = seller.connect(work, revision_cap=3)
    assert [r.acknowledged for r in reports[:4]] == [{"SOLO": 0}, {"SOLO": 1}, {"SOLO": 2}, {}]
    assert reports[3].rejected == {"SOLO": REVISION_CAP_REASON}
    assert reports[6].acknowledged == {"SHIRT-S": 2}
    assert reports[6].rejected == {"SHIRT-M": REVISION_CAP_REASON}
    assert seller.revisions(solo["listingId"]) == 3 and seller.revisions(shirt["listingId"]) == 3
    assert seller.violations()["count"] == 0
    assert DAILY_REVISION_CAP == 250

    # A restarted process told what it did today refuses before sending anything.
    before = len(seller.requests(BULK_UPDATE))
    again = seller.connect(lambda c: c.set_quantities([QuantitySet("SOLO", 9)]),
                           revision_cap=3, mapping={"SOLO": solo["offerId"]},
                           revisions_today={"SOLO": 3})
    assert again.rejected == {"SOLO": REVISION_CAP_REASON}
    assert len(seller.requests(BULK_UPDATE)) == before


def test_ebay_refuses_revisions_beyond_its_cap_and_the_connector_learns(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(revision_cap=2)
    listing = seller.add("CLOCK", 5)["listingId"]
    for quantity in (4, 3):  # Seller Hub edits the connector cannot know about
        seller.admin.put("/_sim/inventory/CLOCK", json={"quantity": quantity,
                                                        "revision": True})

    async def work(c: EbayConnector) -> tuple[PushReport, PushReport, int]:
        first = await push(("CLOCK", 8))(c)
        return first, await c.set_quantities([QuantitySet("CLOCK", 8)]), c.revisions_left(
            "CLOCK")

    first, second, left = seller.connect(work)
    assert first.rejected["CLOCK"].startswith(REVISION_CAP_REASON + " (25002")
    assert second.rejected == {"CLOCK": REVISION_CAP_REASON} and left == 0
    assert len(seller.requests(BULK_UPDATE)) == 1  # the second push never left
    violations = seller.violations()
    assert (violations["revision_cap"], violations["violations"][0]["listing_id"]) == (
        1, listing)
    assert seller.item("CLOCK")["quantity"] == 3
    seller.admin.post("/_sim/revisions/reset").raise_for_status()  # the next calendar day
    assert seller.revisions(listing) == 0


def test_create_or_replace_needs_content_language_a_short_title_and_replaces_fully(
        seller: Seller) -> None:
    seller.add("BAG", 6)
    token = seller.admin.post(TOKEN, auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = "/sell/inventory/v1/inventory_item/BAG"

    no_language = seller.admin.put(url, headers=auth, json={"product": {"title": "Bag"}})
    long_title = seller.admin.put(url, headers={**auth, "Content-Language": "en-US"},
                                  json={"product": {"title": "B" * 81}})
    replaced = seller.admin.put(url, headers={**auth, "Content-Language": "en-US"},
                                json={"product": {"title": "Bag"}, "condition": "NEW"})

    assert [r.status_code for r in (no_language, long_title, replaced)] == [400, 400, 204]
    assert long_title.json()["errors"][0]["errorId"] == 25709
    assert seller.item("BAG")["quantity"] == 0  # availability not resent: quantity lost


class TestEbayContract(ConnectorContract):
    harness: ClassVar[str] = "seller"
    wrong_credentials: ClassVar[dict[str, str]] = {"client_secret": "wrong"}
    refusal: ClassVar[str] = "25709: Invalid value"

    def shown(self, sim: Seller, sku: str) -> int:
        return int(sim.item(sku)["quantity"])
