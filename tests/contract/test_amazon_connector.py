"""AmazonConnector against the Amazon SP-API simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.base import (
    DiscoversMapping,
    PushReport,
    QuantitySet,
    RateLimited,
    Rejected,
    Unavailable,
)
from stocksync.simulators.amazon import AmazonSimConfig, AmazonSimState, create_app
from stocksync.simulators.amazon_state import DEFAULT_RATE_LIMITS
from tests.contract.conftest import Serve
from tests.contract.connector_contract import ConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector

T = TypeVar("T")
# A generous usage plan keeps tests that are not about pacing quick: the connector starts at
# the documented 5/s and speeds up once x-amzn-RateLimit-Limit says 50.
FAST_PLAN = {"patchListingsItem": (50.0, 5.0), "getListingsItem": (50.0, 10.0),
             "getFeed": (20.0, 15.0)}
CONFIG = AmazonSimConfig(lwa_client_id="amzn1.application-oa2-client.contract",
                         lwa_client_secret="contract-secret", refresh_token="Atzr|contract",
                         seller_id="A3CONTRACT", feed_processing_delay_s=0.0,
                         rate_limits=FAST_PLAN)


@dataclass
class Seller(SimulatorHarness):
    sim: AmazonSimState
    config: AmazonSimConfig

    def add(self, sku: str, quantity: int | None = 0) -> None:
        self.admin.post("/_sim/items", json={"sku": sku, "quantity": quantity}
                        ).raise_for_status()

    def quantities(self) -> dict[str, int | None]:
        quantities: dict[str, int | None] = self.state()["quantities"]
        return quantities

    def requests(self, operation: str | None = None) -> list[dict[str, Any]]:
        return self.requests_where("operation", operation)

    def connect(self, work: Callable[[AmazonConnector], Awaitable[T]], **kwargs: Any) -> T:
        secret = kwargs.pop("client_secret", self.config.lwa_client_secret)
        seller_id = kwargs.pop("seller_id", self.config.seller_id)
        timeout = kwargs.pop("timeout", 5.0)
        return run_connector(lambda client: AmazonConnector(
            client, self.url, self.config.lwa_client_id, secret, self.config.refresh_token,
            seller_id=seller_id, marketplace_id=self.config.marketplace_id,
            token_url=f"{self.url}/auth/o2/token", **kwargs), work, timeout)


@pytest.fixture
def start_seller(serve: Serve) -> Callable[..., Seller]:
    def start(**overrides: Any) -> Seller:
        config = replace(CONFIG, **overrides)
        app = create_app(config)
        server, admin = serve(app)
        return Seller(server, admin, app.state.sim, config)

    return start


@pytest.fixture
def seller(start_seller: Callable[..., Seller]) -> Seller:
    return start_seller()


def push(changes: dict[str, int]) -> Callable[[AmazonConnector], Awaitable[PushReport]]:
    async def work(c: AmazonConnector) -> PushReport:
        return await c.set_quantities([QuantitySet(sku, qty) for sku, qty in changes.items()])
    return work


async def settle(c: AmazonConnector, changes: dict[str, int], first: PushReport | None = None,
                 rounds: int = 40) -> PushReport:
    """What the pusher does with ACCEPTED values: ask again for what is pending (here after
    a short pause instead of the reported seconds) until Amazon shows it or refuses it."""
    total = PushReport()
    report = first or await c.set_quantities([QuantitySet(s, q) for s, q in changes.items()])
    for _ in range(rounds):
        total.acknowledged.update(report.acknowledged)
        total.rejected.update(report.rejected)
        due = {s: q for s, q in changes.items()
               if s not in total.acknowledged and s not in total.rejected}
        if not due:
            break
        await asyncio.sleep(0.05)
        report = await c.set_quantities([QuantitySet(s, q) for s, q in due.items()])
    total.pending.update(report.pending)
    return total


def push_settled(changes: dict[str, int]) -> Callable[[AmazonConnector], Awaitable[PushReport]]:
    async def work(c: AmazonConnector) -> PushReport:
        return await settle(c, changes)
    return work


def test_quantities_are_patched_one_sku_at_a_time_and_read_back(seller: Seller) -> None:
    for sku in ("MUG", "TEE/RED#2", "CAP"):
        seller.add(sku, 1)

    async def work(c: AmazonConnector) -> tuple[PushReport, dict[str, int]]:
        first = await c.set_quantities([QuantitySet("MUG", 7), QuantitySet("TEE/RED#2", 0),
                                        QuantitySet("MUG", 8)])  # the last value wins
        # ACCEPTED is queued, not applied: pending until getListingsItem shows it.
        assert first == PushReport(pending={"MUG": 10.0, "TEE/RED#2": 10.0})
        report = await settle(c, {"MUG": 8, "TEE/RED#2": 0}, first)
        return report, await c.fetch_quantities(["MUG", "TEE/RED#2", "CAP", "NOT-LISTED"])

    report, fetched = seller.connect(work)
    assert report == PushReport(acknowledged={"MUG": 8, "TEE/RED#2": 0})
    assert fetched == {"MUG": 8, "TEE/RED#2": 0, "CAP": 1}  # unknown SKUs are left out
    patches = seller.requests("patchListingsItem")
    assert [(p["sku"], p["status"]) for p in patches] == [("MUG", 200), ("TEE/RED#2", 200)]
    listing = seller.admin.get("/_sim/state").json()["listings"]["MUG"]
    assert listing["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 8}]
    changes = seller.admin.get("/_sim/notifications").json()
    assert changes[-1]["Payload"] == {"SellerId": "A3CONTRACT", "FulfillmentChannelCode":
                                      "DEFAULT", "Sku": "TEE/RED#2", "Quantity": 0}
    assert seller.violations()["count"] == 0


def test_items_amazon_finds_invalid_are_rejected_and_the_rest_acknowledged(
        seller: Seller) -> None:
    seller.add("OK", 3)
    seller.add("NEG", 3)
    report = seller.connect(push_settled({"OK": 5, "NEG": -2, "NEW": 4}))
    # Amazon accepts a patch for a SKU without a listing: it creates an offer-only listing.
    assert report.acknowledged == {"OK": 5, "NEW": 4}
    assert report.rejected["NEG"].startswith("90000900")
    assert seller.quantities() == {"OK": 5, "NEG": 3, "NEW": 4}

    seller.faults(unknown_sku="invalid")
    report = seller.connect(push({"OTHER": 1}))
    assert set(report.rejected) == {"OTHER"} and not report.acknowledged


def test_a_full_batch_goes_as_one_json_listings_feed_and_only_successes_are_acknowledged(
        start_seller: Callable[..., Seller], tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    skus = [f"SKU-{n:04}" for n in range(AmazonConnector.max_batch)]
    seed.write_text(json.dumps({"items": [{"sku": sku, "quantity": 1} for sku in skus]}))
    seller = start_seller(seed_path=seed, compress_reports=True, feed_processing_delay_s=0.3)
    changes = {sku: n % 50 for n, sku in enumerate(skus)}
    changes["SKU-0007"] = -1  # refused in the processing report

    def work(c: AmazonConnector) -> Awaitable[PushReport]:
        return c.set_quantities([QuantitySet(sku, qty) for sku, qty in changes.items()])

    started = datetime.now(UTC)
    connector_state: list[datetime | None] = []

    async def observe(c: AmazonConnector) -> PushReport:
        report = await work(c)
        connector_state.append(c.last_feed_at)
        return report

    report = seller.connect(observe, feed_poll_interval_s=0.1)
    # The processing report's accepted messages are "being applied": pending, not acknowledged.
    assert len(report.pending) == len(skus) - 1 and not report.acknowledged
    assert report.rejected["SKU-0007"].startswith("90000900")
    assert seller.quantities()["SKU-0999"] == 999 % 50
    assert [r["operation"] for r in seller.requests() if r["operation"] != "getFeed"] == [
        "lwa:token", "createFeedDocument", "s3:PutObject", "createFeed", "getFeedDocument",
        "s3:GetObject"]
    assert connector_state[0] is not None and connector_state[0] >= started
    assert seller.violations()["count"] == 0


def test_a_second_large_batch_within_twenty_minutes_is_patched_not_fed(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller()
    skus = [f"B-{n}" for n in range(5)]
    for sku in skus:
        seller.add(sku, 0)

    async def two_batches(c: AmazonConnector) -> tuple[PushReport, PushReport]:
        first = await c.set_quantities([QuantitySet(sku, 1) for sku in skus])
        return first, await c.set_quantities([QuantitySet(sku, 2) for sku in skus])

    first, second = seller.connect(two_batches, feed_threshold=5)
    assert set(first.pending) == set(skus)  # the feed's accepted messages
    assert set(second.pending) == set(skus)  # a new value: patched, not waited for
    assert len(seller.requests("createFeed")) == 1
    assert len(seller.requests("patchListingsItem")) == len(skus)
    # A restarted connector told when the last feed went out keeps to the interval too...
    recent = datetime.now(UTC) - timedelta(minutes=5)
    seller.connect(push(dict.fromkeys(skus, 3)), feed_threshold=5, last_feed_at=recent)
    assert len(seller.requests("createFeed")) == 1
    assert seller.violations()["count"] == 0
    # ...and one that ignores it is caught by the simulator.
    seller.connect(push(dict.fromkeys(skus, 4)), feed_threshold=5,
                   min_feed_interval=timedelta(0))
    violations = seller.violations()
    assert (violations["count"], violations["feed_interval"]) == (1, 1)
    assert seller.quantities() == dict.fromkeys(skus, 4)


def test_an_unfinished_feed_raises_unavailable_and_the_retry_collects_it(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(feed_processing_delay_s=1.5)
    skus = [f"F-{n}" for n in range(5)]
    for sku in [*skus, "OTHER"]:
        seller.add(sku, 0)

    async def work(c: AmazonConnector) -> tuple[PushReport, PushReport]:
        changes = [QuantitySet(sku, 9) for sku in skus]
        with pytest.raises(Unavailable, match="still"):
            await c.set_quantities(changes)
        assert c.pending_feed is not None
        # Held SKUs are not patched meanwhile (the feed could overwrite them); others are.
        meanwhile = await c.set_quantities([*changes, QuantitySet("OTHER", 1)])
        await asyncio.sleep(1.2)  # getFeed allows 2/s: the feed finishes after ~3 polls
        return meanwhile, await c.set_quantities(changes)

    meanwhile, later = seller.connect(work, feed_threshold=5, feed_wait_s=0.2,
                                      feed_poll_interval_s=0.1)
    assert meanwhile == PushReport(pending={"OTHER": 10.0})
    assert set(later.pending) == set(skus)
    assert len(seller.requests("createFeed")) == 1
    assert [p["sku"] for p in seller.requests("patchListingsItem")] == ["OTHER"]
    assert seller.violations()["count"] == 0


def test_under_a_burst_the_connector_paces_itself_to_the_patch_bucket(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(rate_limits=DEFAULT_RATE_LIMITS)  # the documented 5/s, burst 5
    skus = [f"P-{n:02}" for n in range(10)]
    for sku in skus:
        seller.add(sku, 0)
    started = time.monotonic()
    report = seller.connect(push(dict.fromkeys(skus, 5)))
    elapsed = time.monotonic() - started
    assert set(report.pending) == set(skus)
    assert seller.violations() == {"count": 0, "rate_limited": 0, "feed_interval": 0,
                                   "transient_rate_limited": 0, "violations": []}
    # 5 per second; a fresh connector assumes a predecessor may have spent the burst.
    assert elapsed > len(skus) / 5.0


def test_the_connector_slows_down_to_the_rate_amazon_reports_in_its_headers(
        start_seller: Callable[..., Seller]) -> None:
    # A dynamic usage plan: 2/s instead of the documented 5/s; only the header says so.
    seller = start_seller(rate_limits={"patchListingsItem": (2.0, 2.0)})
    skus = [f"H-{n}" for n in range(6)]
    for sku in skus:
        seller.add(sku, 0)
    report = seller.connect(push_settled(dict.fromkeys(skus, 1)))
    assert report.acknowledged == dict.fromkeys(skus, 1)
    assert seller.violations()["count"] == 0


def test_the_simulator_counts_requests_beyond_the_bucket_as_violations(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(rate_limits=DEFAULT_RATE_LIMITS)
    seller.add("RAW", 0)
    token = httpx.post(f"{seller.server.url}/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": CONFIG.refresh_token,
        "client_id": CONFIG.lwa_client_id, "client_secret": CONFIG.lwa_client_secret,
    }).json()["access_token"]
    body = {"productType": "PRODUCT", "patches": [{
        "op": "replace", "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}]}
    answers = [seller.admin.patch(
        f"/listings/2021-08-01/items/{CONFIG.seller_id}/RAW",
        params={"marketplaceIds": CONFIG.marketplace_id}, json=body,
        headers={"x-amz-access-token": token}) for _ in range(8)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) >= 2
    throttled = answers[statuses.index(429)]
    assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "5.0"
    assert seller.violations()["rate_limited"] == statuses.count(429)


def test_a_throttled_call_raises_rate_limited_and_is_not_the_clients_violation(
        seller: Seller) -> None:
    seller.add("SLOW", 0)
    seller.faults(force_rate_limit=True)
    with pytest.raises(RateLimited) as caught:
        seller.connect(push({"SLOW": 2}))
    assert 0 < caught.value.retry_after <= 0.3  # one token at 5/s
    violations = seller.violations()
    assert (violations["count"], violations["transient_rate_limited"]) == (0, 1)


def test_another_sellers_id_is_refused_once_more_with_a_fresh_token_then_rejected(
        seller: Seller) -> None:
    seller.add("KEY", 1)
    with pytest.raises(Rejected, match="Unauthorized"):
        seller.connect(push({"KEY": 2}), seller_id="A9SOMEONEELSE")
    assert [r["status"] for r in seller.requests("patchListingsItem")] == [403, 403]
    assert seller.sim.tokens_issued == 2
    assert seller.quantities() == {"KEY": 1}


def test_tokens_are_refreshed_before_they_expire_and_once_when_refused(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(access_token_lifetime_s=1)
    seller.add("TOK", 0)

    async def work(c: AmazonConnector) -> list[PushReport]:
        reports = [await c.set_quantities([QuantitySet("TOK", 1)])]
        await asyncio.sleep(1.0)  # past the refresh point (0.9 s), before any 403
        reports.append(await c.set_quantities([QuantitySet("TOK", 2)]))
        seller.faults(expire_tokens=True)  # revoked early: the API answers 403
        reports.append(await c.set_quantities([QuantitySet("TOK", 3)]))
        return reports

    reports = seller.connect(work)
    assert [r.pending for r in reports] == [{"TOK": 10.0}, {"TOK": 10.0}, {"TOK": 10.0}]
    assert [r["status"] for r in seller.requests("patchListingsItem")] == [200, 200, 403, 200]
    assert seller.sim.tokens_issued == 3


def test_amazon_addresses_listings_by_sku_so_there_is_no_mapping_to_discover(
        seller: Seller) -> None:
    async def work(c: AmazonConnector) -> None:
        assert not isinstance(c, DiscoversMapping)
        assert AmazonConnector.mapping_field is None

    seller.connect(work)


def test_a_call_stops_at_its_time_budget_and_the_rest_stays_due(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(rate_limits=DEFAULT_RATE_LIMITS)
    skus = [f"D-{n}" for n in range(6)]
    for sku in skus:
        seller.add(sku, 0)

    async def work(c: AmazonConnector) -> list[PushReport]:
        reports: list[PushReport] = []
        pending = [QuantitySet(sku, 4) for sku in skus]
        while pending:  # what the pusher does: what is not acknowledged stays due
            reports.append(await c.set_quantities(pending))
            settled = reports[-1].acknowledged.keys() | reports[-1].pending.keys()
            pending = [q for q in pending if q.sku not in settled]
        return reports

    reports = seller.connect(work, push_budget_s=0.3)
    assert len(reports) > 1 and not any(r.rejected for r in reports)
    assert 0 < len(reports[0].pending) < len(skus)
    assert seller.quantities() == dict.fromkeys(skus, 4)
    assert len(seller.requests("patchListingsItem")) == len(skus)  # nothing sent twice


class TestAmazonContract(ConnectorContract):
    harness: ClassVar[str] = "seller"
    wrong_credentials: ClassVar[dict[str, str]] = {"client_secret": "wrong"}
    refused_credentials: ClassVar[str] = "invalid_client"
    refusal: ClassVar[str] = "90000900"

    def shown(self, sim: Seller, sku: str) -> int:
        quantity = sim.quantities()[sku]
        assert quantity is not None
        return quantity

    async def push(self, c: AmazonConnector, changes: list[QuantitySet]) -> PushReport:
        # Amazon answers ACCEPTED (pending) first; ask again until it shows or refuses.
        latest = {change.sku: change.quantity for change in changes}
        return await settle(c, latest)
