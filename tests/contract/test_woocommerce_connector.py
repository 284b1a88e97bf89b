"""WooCommerceConnector against the WooCommerce simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from stocksync.channels.base import PushReport, QuantitySet, RateLimited, Rejected
from stocksync.channels.woocommerce import WooCommerceConnector
from stocksync.core.inbound import ChannelSale, LevelReport
from stocksync.ingest.woocommerce import WooCommerceWebhookParser
from stocksync.simulators.woocommerce import (
    WooCommerceSimConfig,
    WooCommerceSimState,
    create_app,
)
from tests.contract.conftest import Serve
from tests.contract.connector_contract import ConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector
from tests.webhook_receiver import WebhookReceiver

KEY, SECRET = "ck_contract_test", "cs_contract_test"
HOOK_SECRET = "woo-secret"
T = TypeVar("T")


@dataclass
class Store(SimulatorHarness):
    sim: WooCommerceSimState

    def add(self, sku: str, quantity: int | None, **extra: Any) -> dict[str, Any]:
        response = self.admin.post("/_sim/items", json={"sku": sku, "quantity": quantity,
                                                        **extra})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def item(self, sku: str) -> dict[str, Any]:
        items: dict[str, Any] = self.state()["items"]
        return dict(items[sku])

    def requests(self, method: str | None = None) -> list[dict[str, Any]]:
        return self.requests_where("method", method)

    def deliveries(self) -> dict[str, Any]:
        body: dict[str, Any] = self.admin.get("/_sim/webhooks").json()
        return body

    def wait_for_answers(self, count: int) -> None:
        """Until `count` deliveries (pings included) have an answer or an error."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            done = [d for d in self.deliveries()["deliveries"]
                    if d["status"] is not None or d["error"] is not None]
            if len(done) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} deliveries were answered")

    def connect(self, work: Callable[[WooCommerceConnector], Awaitable[T]], *,
                secret: str = SECRET, timeout: float = 5.0, **kwargs: Any) -> T:
        return run_connector(lambda client: WooCommerceConnector(
            client, self.url, KEY, secret, **kwargs), work, timeout)


@pytest.fixture
def start_store(serve: Serve) -> Callable[..., Store]:
    def start(**config: Any) -> Store:
        app = create_app(WooCommerceSimConfig(consumer_key=KEY, consumer_secret=SECRET,
                                              **config))
        server, admin = serve(app)
        return Store(server, admin, app.state.sim)

    return start


@pytest.fixture
def store(start_store: Callable[..., Store]) -> Store:
    return start_store()


def seed(tmp_path: Path, products: list[dict[str, Any]]) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"products": products}))
    return path


def test_products_and_variations_are_mapped_by_sku_pushed_and_read_back(
        start_store: Callable[..., Store], tmp_path: Path) -> None:
    store = start_store(seed_path=seed(tmp_path, [
        {"sku": "TEE-1", "quantity": 4},
        {"sku": "HOOD", "quantity": 9, "variations": [
            {"sku": "HOOD-S", "quantity": 1},
            {"sku": "HOOD-M", "manage_stock": "parent"}]}]))

    async def work(c: WooCommerceConnector) -> tuple[Any, ...]:
        found = await c.discover_mapping(["TEE-1", "HOOD-S", "HOOD-M", "NOT-IN-STORE"])
        before = await c.fetch_quantities(["TEE-1", "HOOD-S", "HOOD-M", "NOT-IN-STORE"])
        report = await c.set_quantities([QuantitySet("TEE-1", 7), QuantitySet("HOOD-S", 0),
                                         QuantitySet("HOOD-M", 12),
                                         QuantitySet("NOT-IN-STORE", 3)])
        return found, before, report, await c.fetch_quantities(["TEE-1", "HOOD-S", "HOOD-M"])

    found, before, report, after = store.connect(work)
    tee, hood, small, medium = (store.item(s) for s in ("TEE-1", "HOOD", "HOOD-S", "HOOD-M"))
    assert found == {"TEE-1": str(tee["id"]), "HOOD-S": f"{hood['id']}/{small['id']}",
                     "HOOD-M": f"{hood['id']}/{medium['id']}"}
    assert before == {"TEE-1": 4, "HOOD-S": 1, "HOOD-M": 9}  # "parent": the parent's stock
    assert report.acknowledged == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert set(report.rejected) == {"NOT-IN-STORE"}
    assert after == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert medium["manage_stock"] is True and hood["stock_quantity"] == 9
    assert small["stock_status"] == "outofstock"
    posts = {r["path"]: r["body"]["update"] for r in store.requests("POST")}
    assert posts == {
        "/wp-json/wc/v3/products/batch": [
            {"id": tee["id"], "stock_quantity": 7, "manage_stock": True}],
        f"/wp-json/wc/v3/products/{hood['id']}/variations/batch": [
            {"id": small["id"], "stock_quantity": 0, "manage_stock": True},
            {"id": medium["id"], "stock_quantity": 12, "manage_stock": True}]}


def test_batches_hold_at_most_100_items_and_pages_100_rows(
        start_store: Callable[..., Store], tmp_path: Path) -> None:
    skus = [f"BOX-{n:03}" for n in range(250)]
    store = start_store(seed_path=seed(tmp_path, [{"sku": s, "quantity": 1} for s in skus]))

    async def work(c: WooCommerceConnector) -> tuple[dict[str, str], PushReport,
                                                      dict[str, int]]:
        mapping = await c.discover_mapping()  # the whole catalog, page by page
        report = await c.set_quantities([QuantitySet(s, n) for n, s in enumerate(skus)])
        return mapping, report, await c.fetch_quantities(skus)

    mapping, report, fetched = store.connect(work)
    assert set(mapping) == set(skus)
    assert report.acknowledged == {s: n for n, s in enumerate(skus)} and not report.rejected
    assert fetched == report.acknowledged
    assert [len(r["body"]["update"]) for r in store.requests("POST")] == [100, 100, 50]
    gets = store.requests("GET")
    assert {r["query"]["per_page"] for r in gets} == {"100"}
    assert [r["query"]["page"] for r in gets if "sku" not in r["query"]] == ["1", "2", "3"]
    assert store.violations()["count"] == 0


def test_a_lower_batch_limit_set_by_the_merchant_is_learned_from_the_413(
        start_store: Callable[..., Store], tmp_path: Path) -> None:
    skus = [f"CUP-{n:02}" for n in range(70)]
    store = start_store(batch_limit=30,
                        seed_path=seed(tmp_path, [{"sku": s, "quantity": 0} for s in skus]))

    async def work(c: WooCommerceConnector) -> PushReport:
        await c.discover_mapping(skus)
        return await c.set_quantities([QuantitySet(s, 5) for s in skus])

    report = store.connect(work)
    assert report.acknowledged == dict.fromkeys(skus, 5)
    posts = store.requests("POST")
    assert [(r["status"], len(r["body"]["update"])) for r in posts] == [
        (413, 70), (200, 30), (200, 30), (200, 10)]
    assert store.violations()["by_kind"]["batch_too_large"] == 1


def test_items_woocommerce_refuses_are_rejected_and_the_rest_applied(store: Store) -> None:
    for sku in ("OK-1", "GONE-1", "LOCKED-1", "MOVED-1"):
        store.add(sku, 1)
    skus = ["OK-1", "GONE-1", "LOCKED-1", "MOVED-1"]

    async def work(c: WooCommerceConnector) -> tuple[PushReport, dict[str, str], str]:
        await c.discover_mapping(skus)
        old_id = c.mapping["MOVED-1"]
        # The merchant deletes one product and re-imports another under a new id.
        store.admin.delete("/_sim/items/GONE-1").raise_for_status()
        store.admin.delete("/_sim/items/MOVED-1").raise_for_status()
        store.add("MOVED-1", 0)
        store.faults(reject_skus=["LOCKED-1"])
        report = await c.set_quantities([QuantitySet(sku, 5) for sku in skus])
        return report, dict(c.mapping), old_id

    report, mapping, old_id = store.connect(work)
    assert report.acknowledged == {"OK-1": 5, "MOVED-1": 5}
    assert report.rejected["GONE-1"].startswith("woocommerce_rest_product_invalid_id")
    assert report.rejected["LOCKED-1"].startswith("woocommerce_rest_cannot_edit")
    assert set(report.rejected) == {"GONE-1", "LOCKED-1"}
    assert "GONE-1" not in mapping and "LOCKED-1" in mapping  # a stale id is dropped
    assert mapping["MOVED-1"] == str(store.item("MOVED-1")["id"]) != old_id
    assert store.item("OK-1")["stock_quantity"] == 5
    assert store.item("MOVED-1")["stock_quantity"] == 5
    assert store.item("LOCKED-1")["stock_quantity"] == 1
    outcomes = [r["outcome"] for r in store.requests("POST")]
    assert outcomes == ["item_errors", "ok"]  # the retry carries MOVED-1 alone


def test_a_read_only_key_is_rejected_when_it_writes(start_store: Callable[..., Store]) -> None:
    read_only = start_store(key_permissions="read")
    read_only.add("PEN", 1)

    async def push(c: WooCommerceConnector) -> PushReport:
        await c.discover_mapping(["PEN"])
        return await c.set_quantities([QuantitySet("PEN", 2)])

    with pytest.raises(Rejected, match="write permissions"):
        read_only.connect(push)


def test_credentials_can_travel_in_the_query_string(store: Store) -> None:
    store.add("INK", 3)
    fetched = store.connect(lambda c: c.fetch_quantities(["INK"]), credentials_in_query=True)
    assert fetched == {"INK": 3}
    assert store.requests()[-1]["query"]["consumer_key"] == KEY
    assert "consumer_secret" not in store.requests()[-1]["query"]  # never logged


def push_and_read_rounds(skus: list[str], rounds: int) -> Callable[
        [WooCommerceConnector], Awaitable[dict[str, int]]]:
    async def work(c: WooCommerceConnector) -> dict[str, int]:
        await c.discover_mapping(skus)
        for round_no in range(1, rounds + 1):
            await c.set_quantities([QuantitySet(sku, round_no) for sku in skus])
            await c.fetch_quantities(skus)
        return await c.fetch_quantities(skus)
    return work


def test_an_advertised_host_limit_paces_the_connector_without_violations(
        start_store: Callable[..., Store]) -> None:
    store = start_store(rate_limit=4, rate_limit_window_s=1.0)
    for sku in ("A-1", "B-1", "C-1"):
        store.add(sku, 0)

    started = time.monotonic()
    fetched = store.connect(push_and_read_rounds(["A-1", "B-1", "C-1"], rounds=4))
    assert fetched == {"A-1": 4, "B-1": 4, "C-1": 4}
    assert time.monotonic() - started > 2.0  # 10 calls, 4 per window: three windows
    violations = store.violations()
    assert violations["count"] == 0 and violations["rate_limited"] == 0
    assert store.requests()[-1]["status"] == 200


def test_a_configured_rate_paces_a_store_whose_waf_sends_no_headers(
        start_store: Callable[..., Store]) -> None:
    # 2.5 requests/s against 4 per window leaves slack for requests arriving bunched up.
    store = start_store(rate_limit=4, rate_limit_window_s=1.0, rate_limit_headers=False)
    store.add("D-1", 0)
    fetched = store.connect(push_and_read_rounds(["D-1"], rounds=2), requests_per_second=2.5)
    assert fetched == {"D-1": 2}
    assert store.violations()["count"] == 0


def test_a_429_raises_rate_limited_and_the_next_call_waits_out_retry_after(
        start_store: Callable[..., Store]) -> None:
    store = start_store(rate_limit=2, rate_limit_window_s=1.0, rate_limit_headers=False)
    store.add("E-1", 4)

    async def work(c: WooCommerceConnector) -> tuple[float, float, dict[str, int]]:
        await c.fetch_quantities(["E-1"])
        await c.fetch_quantities(["E-1"])
        with pytest.raises(RateLimited) as caught:  # the WAF's third request in the window
            await c.fetch_quantities(["E-1"])
        started = time.monotonic()
        again = await c.fetch_quantities(["E-1"])  # no pause by the caller
        return caught.value.retry_after, time.monotonic() - started, again

    retry_after, waited, again = store.connect(work)
    assert retry_after == 1.0 and waited >= 0.9 and again == {"E-1": 4}
    violations = store.violations()
    assert violations["rate_limited"] == 1  # the one request a header-less WAF costs
    assert violations["by_kind"]["ignored_retry_after"] == 0


def test_forced_429s_are_transient_and_not_violations(store: Store) -> None:
    store.add("F-1", 1)
    store.faults(force_rate_limit=True, retry_after_s=1)

    async def work(c: WooCommerceConnector) -> dict[str, int]:
        with pytest.raises(RateLimited) as caught:
            await c.fetch_quantities(["F-1"])
        assert caught.value.retry_after == 1.0
        store.faults(force_rate_limit=False)
        return await c.fetch_quantities(["F-1"])

    assert store.connect(work) == {"F-1": 1}
    violations = store.violations()
    assert violations["count"] == 0 and violations["forced_rate_limited"] == 1


def test_webhooks_are_pinged_signed_and_parse_with_the_ingest_parser(store: Store) -> None:
    parser = WooCommerceWebhookParser()
    with WebhookReceiver() as receiver:
        sock = store.add("SOCK", 10)
        store.admin.put("/_sim/webhooks", json={
            "url": receiver.url, "secret": HOOK_SECRET,
            "topics": ["product.updated", "order.created"]}).raise_for_status()
        pings = receiver.wait_for(2)
        store.admin.put("/_sim/inventory/SOCK", json={"quantity": 6}).raise_for_status()
        receiver.wait_for(3)
        store.admin.post("/_sim/orders", json={"line_items": [{"sku": "SOCK", "quantity": 2}]}
                         ).raise_for_status()
        receiver.wait_for(5)
        pushed = store.connect(lambda c: _push_one(c, "SOCK", 9))
        receiver.wait_for(6)  # WooCommerce echoes our own write as product.updated

    assert sorted(body for _, body in pings) == [b"webhook_id=1", b"webhook_id=2"]
    for headers, body in pings:
        assert "x-wc-webhook-signature" not in headers and parser.is_ping(headers, body)
    deliveries = receiver.received[2:]
    for headers, body in deliveries:
        assert parser.verify(HOOK_SECRET, headers, body, "")
        assert headers["x-wc-webhook-source"] == "https://stocksync-sim.example/"
        assert headers["user-agent"].startswith("WooCommerce/")
        assert {"x-wc-webhook-id", "x-wc-webhook-delivery-id", "x-wc-webhook-resource",
                "x-wc-webhook-event"} <= set(headers)
    edit_headers, edit_body = deliveries[0]
    assert edit_headers["x-wc-webhook-topic"] == "product.updated"
    assert b"\\/" in edit_body  # PHP-escaped slashes: verify the raw bytes, never re-encode
    [edit] = parser.parse(edit_headers, edit_body, {}).messages
    assert edit == LevelReport(sku="SOCK", external_id=str(sock["id"]), value=6,
                               observed_at=edit.observed_at)
    by_topic = {h["x-wc-webhook-topic"]: (h, b) for h, b in deliveries[1:3]}
    [sale] = parser.parse(*by_topic["order.created"], {}).messages
    assert isinstance(sale, ChannelSale) and (sale.sku, sale.quantity) == ("SOCK", 2)
    [level] = parser.parse(*by_topic["product.updated"], {}).messages
    assert isinstance(level, LevelReport) and level.value == 4
    assert pushed.acknowledged == {"SOCK": 9}
    [echo] = parser.parse(*deliveries[3], {}).messages
    assert isinstance(echo, LevelReport) and echo.value == 9


async def _push_one(c: WooCommerceConnector, sku: str, quantity: int) -> PushReport:
    await c.discover_mapping([sku])
    return await c.set_quantities([QuantitySet(sku, quantity)])


def test_failed_deliveries_are_not_retried_and_disable_the_webhook(
        start_store: Callable[..., Store]) -> None:
    with WebhookReceiver(status=500) as receiver:
        store = start_store(webhook_url=receiver.url, webhook_secret=HOOK_SECRET,
                            webhook_topics=("product.updated",), webhook_max_failures=1)
        receiver.wait_for(1)  # the ping of the webhook configured at start-up
        store.add("MUG", 5)
        for answered, quantity in enumerate((4, 3, 2, 1), start=2):
            store.admin.put("/_sim/inventory/MUG", json={"quantity": quantity})
            if answered <= 4:
                store.wait_for_answers(answered)
        time.sleep(0.3)
        # failure_count > 1 before the 3rd failure -> disabled; the 4th edit is not sent.
        assert len(receiver.received) == 4
        [webhook] = store.deliveries()["webhooks"]
        assert (webhook["status"], webhook["failure_count"]) == ("disabled", 2)
        attempts = [d for d in store.deliveries()["deliveries"] if d["topic"] != "ping"]
        assert len({d["delivery_id"] for d in attempts}) == 3  # one attempt each, no retry

        receiver.status = 200
        response = store.admin.put(f"/wp-json/wc/v3/webhooks/{webhook['id']}",
                                   json={"status": "active"}, auth=(KEY, SECRET))
        assert response.json()["status"] == "active"
        receiver.wait_for(5)  # re-activation pings again
        store.admin.put("/_sim/inventory/MUG", json={"quantity": 8})
        _, body = receiver.wait_for(6)[-1]
        store.wait_for_answers(6)
    assert json.loads(body)["stock_quantity"] == 8
    assert store.deliveries()["webhooks"][0]["failure_count"] == 0


def test_rapid_updates_to_one_product_coalesce_into_one_delivery_of_the_latest_state(
        start_store: Callable[..., Store]) -> None:
    with WebhookReceiver() as receiver:
        store = start_store(webhook_url=receiver.url, webhook_secret=HOOK_SECRET,
                            webhook_topics=("product.updated",), webhook_delay_s=0.3)
        receiver.wait_for(1)
        store.add("VASE", 1)
        for quantity in (7, 6, 5):
            store.admin.put("/_sim/inventory/VASE", json={"quantity": quantity})
        _, body = receiver.wait_for(2)[-1]
        time.sleep(0.5)
    assert len(receiver.received) == 2
    assert json.loads(body)["stock_quantity"] == 5  # built at delivery time
    assert store.deliveries()["coalesced"] == 2


class TestWooCommerceContract(ConnectorContract):
    harness: ClassVar[str] = "store"
    wrong_credentials: ClassVar[dict[str, str]] = {"secret": "cs_wrong"}
    refused_credentials: ClassVar[str] = "Consumer secret is invalid"
    refusal: ClassVar[str] = "woocommerce_rest_cannot_edit"

    def shown(self, sim: Store, sku: str) -> int:
        return int(sim.item(sku)["stock_quantity"])

    def refused_quantity(self, sim: Store, sku: str) -> int:
        # WooCommerce takes negative stock (backorders); a locked product refuses any edit.
        sim.faults(reject_skus=[sku])
        return 5
