"""SquareConnector against the Square simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from stocksync.channels.base import PushReport, QuantitySet, RateLimited, Rejected, Unavailable
from stocksync.channels.square import DEFAULT_SQUARE_VERSION, SquareConnector
from stocksync.channels.square_pacing import DEFAULT_BURST, DEFAULT_REQUESTS_PER_SECOND
from stocksync.simulators.square import SquareSimConfig, SquareSimState, create_app
from tests.contract.conftest import Serve
from tests.contract.connector_contract import KeyedConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector

TOKEN = "EAAAEcontracttest"
SIGNATURE_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
BATCH_CREATE = "/v2/inventory/changes/batch-create"
COUNTS = "/v2/inventory/counts/batch-retrieve"
SEARCH = "/v2/catalog/search"
T = TypeVar("T")
# Most tests are not about pacing: a roomy limit on both sides keeps them fast.
ROOMY = {"rate_limit_per_second": 500.0, "rate_limit_burst": 500.0}
FAST_CLIENT = {"requests_per_second": 200.0, "burst": 50.0}


@dataclass
class Square(SimulatorHarness):
    sim: SquareSimState

    @property
    def location_id(self) -> str:
        return self.sim.config.location_id

    def add(self, sku: str, quantity: int, **extra: Any) -> str:
        response = self.admin.post("/_sim/items", json={"sku": sku, "quantity": quantity,
                                                        **extra})
        response.raise_for_status()
        return str(response.json()["catalog_object_id"])

    def quantity(self, sku: str) -> int:
        return int(self.state()["quantities"][sku][self.location_id])

    def merchant(self, sku: str, **change: int) -> None:
        self.admin.put(f"/_sim/inventory/{sku}", json=change).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        return self.requests_where("path", path)

    def api(self, path: str, body: dict[str, Any], token: str = TOKEN) -> httpx.Response:
        """A raw API call, as any Square client would make it."""
        return self.admin.post(path, json=body, headers={
            "Authorization": f"Bearer {token}", "Square-Version": DEFAULT_SQUARE_VERSION})

    def connect(self, work: Callable[[SquareConnector], Awaitable[T]], **kwargs: Any) -> T:
        token, timeout = kwargs.pop("token", TOKEN), kwargs.pop("timeout", 5.0)
        options = {**FAST_CLIENT, **kwargs}
        return run_connector(lambda client: SquareConnector(
            client, self.url, token, location_id=self.location_id, **options), work, timeout)


@pytest.fixture
def start_square(serve: Serve) -> Callable[..., Square]:
    def start(**config: Any) -> Square:
        app = create_app(SquareSimConfig(access_token=TOKEN, **{**ROOMY, **config}))
        server, admin = serve(app)
        return Square(server, admin, app.state.sim)

    return start


@pytest.fixture
def square(start_square: Callable[..., Square]) -> Square:
    return start_square()


def count_change(object_id: str, location_id: str, quantity: str, occurred_at: datetime
                 ) -> dict[str, Any]:
    return {"type": "PHYSICAL_COUNT", "physical_count": {
        "catalog_object_id": object_id, "state": "IN_STOCK", "location_id": location_id,
        "quantity": quantity, "occurred_at": occurred_at.isoformat()}}


def sale(object_id: str, location_id: str, quantity: str, occurred_at: datetime
         ) -> dict[str, Any]:
    return {"type": "ADJUSTMENT", "adjustment": {
        "catalog_object_id": object_id, "from_state": "IN_STOCK", "to_state": "SOLD",
        "location_id": location_id, "quantity": quantity,
        "occurred_at": occurred_at.isoformat()}}


def test_skus_are_mapped_pushed_as_physical_counts_and_read_back(square: Square) -> None:
    ids = {sku: square.add(sku, qty) for sku, qty in (("TEE-1", 4), ("HOOD-S", 1),
                                                       ("HOOD-M", 9))}

    async def work(c: SquareConnector) -> tuple[dict[str, str], PushReport, dict[str, int]]:
        found = await c.discover_mapping(["TEE-1", "HOOD-S", "HOOD-M", "NOT-IN-SQUARE"])
        report = await c.set_quantities([QuantitySet("TEE-1", 7), QuantitySet("HOOD-S", 0),
                                         QuantitySet("HOOD-M", 12, known=9),
                                         QuantitySet("NOT-IN-SQUARE", 3)])
        return found, report, await c.fetch_quantities(
            ["TEE-1", "HOOD-S", "HOOD-M", "NOT-IN-SQUARE"])

    found, report, fetched = square.connect(work)
    assert found == ids
    assert report.acknowledged == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert set(report.rejected) == {"NOT-IN-SQUARE"}
    assert fetched == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert [square.quantity(s) for s in ("TEE-1", "HOOD-S", "HOOD-M")] == [7, 0, 12]
    (push,) = square.requests(BATCH_CREATE)
    body = push["body"]
    assert body["ignore_unchanged_counts"] is False and len(body["idempotency_key"]) <= 128
    counts = [change["physical_count"] for change in body["changes"]]
    assert {change["type"] for change in body["changes"]} == {"PHYSICAL_COUNT"}
    assert {(c["state"], c["location_id"]) for c in counts} == {("IN_STOCK", square.location_id)}
    occurred = datetime.fromisoformat(counts[0]["occurred_at"])
    assert abs(datetime.now(UTC) - occurred) < timedelta(seconds=30)
    # The fetch looked the unknown SKU up once more; Square still has no variation for it.
    assert [r["status"] for r in square.requests(SEARCH)] == [200, 200]
    assert {r["square_version"] for r in square.requests()} == {DEFAULT_SQUARE_VERSION}
    assert square.violations()["count"] == 0


def test_a_large_push_goes_out_in_batches_of_100_and_is_read_back_page_by_page(
        start_square: Callable[..., Square], tmp_path: Path) -> None:
    skus = [f"SKU-{n:03}" for n in range(250)]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"items": [{"sku": sku, "quantity": 1} for sku in skus]}))
    square = start_square(seed_path=seed, counts_page_size=40)

    async def work(c: SquareConnector) -> tuple[PushReport, dict[str, int]]:
        await c.discover_mapping(skus)
        report = await c.set_quantities([QuantitySet(sku, n) for n, sku in enumerate(skus)])
        return report, await c.fetch_quantities(skus)

    report, fetched = square.connect(work)
    assert report.acknowledged == fetched == {sku: n for n, sku in enumerate(skus)}
    assert [r["changes"] for r in square.requests(BATCH_CREATE)] == [100, 100, 50]
    assert len(square.requests(SEARCH)) == 3  # 100 SKUs per set_query
    assert len(square.requests(COUNTS)) == 7  # 250 counts, 40 per page, followed by cursor
    assert square.violations()["count"] == 0


def test_an_equal_push_that_accounts_for_a_till_sale_is_applied_not_skipped(
        square: Square) -> None:
    # Was "a sale between two equal pushes is overwritten by the second": counts stamped
    # "now" erased any till sale made before them. Counts are now stamped at as_of (the
    # newest Square change the value includes), so a second count of 5 replaces the sale
    # only when stocksync says its 5 already accounts for it (test_square_orders.py).
    square.add("MUG", 10)

    async def work(c: SquareConnector) -> PushReport:
        await c.discover_mapping(["MUG"])
        await c.set_quantities([QuantitySet("MUG", 5)])
        square.merchant("MUG", delta=-2)  # a sale at the till: 5 -> 3
        counted = datetime.now(UTC)  # stocksync counted it (and received 2 more)
        return await c.set_quantities([QuantitySet("MUG", 5, known=5, as_of=counted)])

    assert square.connect(work).acknowledged == {"MUG": 5}
    assert square.quantity("MUG") == 5
    pushes = square.requests(BATCH_CREATE)
    assert len({p["idempotency_key"] for p in pushes}) == 2
    # With Square's default ignore_unchanged_counts=true the same count would be skipped:
    mug = square.sim.variations_by_sku("MUG")[0].id
    square.merchant("MUG", delta=-1)
    skipped = square.api(BATCH_CREATE, {"idempotency_key": "default-ignores", "changes": [
        count_change(mug, square.location_id, "5", datetime.now(UTC))]})
    assert skipped.status_code == 200 and square.quantity("MUG") == 4


def test_changes_apply_in_occurred_at_order_within_a_24_hour_window(square: Square) -> None:
    cup = square.add("CUP", 10)
    now, loc = datetime.now(UTC), square.location_id

    def send(key: str, *changes: dict[str, Any]) -> httpx.Response:
        return square.api(BATCH_CREATE, {"idempotency_key": key, "changes": list(changes),
                                         "ignore_unchanged_counts": False})

    assert send("k1", count_change(cup, loc, "7", now)).status_code == 200
    # Arriving late but older than the count of 7: history, not the current quantity.
    assert send("k2", count_change(cup, loc, "3", now - timedelta(minutes=1)),
                sale(cup, loc, "1", now - timedelta(minutes=2))).status_code == 200
    assert square.quantity("CUP") == 7
    assert send("k3", sale(cup, loc, "1.5", now + timedelta(seconds=1))).status_code == 200
    assert square.admin.get("/_sim/state").json()["quantities"]["CUP"][loc] == "5.5"
    too_old = send("k4", count_change(cup, loc, "1", now - timedelta(hours=25)))
    future = send("k5", count_change(cup, loc, "1", now + timedelta(minutes=10)))
    for refused in (too_old, future):
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "INVALID_TIME"
    assert square.violations()["by_kind"] == {"occurred_at_out_of_range": 2}


def test_an_idempotency_key_replays_its_first_answer_and_refuses_another_body(
        square: Square) -> None:
    cap = square.add("CAP", 5)
    request = {"idempotency_key": "0b7f3c9e-2f1d-4c55-9a57-1d2a7e0c9b11", "changes": [
        count_change(cap, square.location_id, "6", datetime.now(UTC))]}
    first = square.api(BATCH_CREATE, request)
    square.merchant("CAP", quantity=9)

    replay = square.api(BATCH_CREATE, request)

    assert replay.status_code == first.status_code == 200
    assert replay.json() == first.json()
    assert square.quantity("CAP") == 9  # the replay changed nothing
    other = square.api(BATCH_CREATE, {**request, "changes": [
        count_change(cap, square.location_id, "8", datetime.now(UTC))]})
    assert other.status_code == 400
    assert other.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = square.api(BATCH_CREATE, {"changes": request["changes"]})
    assert missing.json()["errors"][0]["code"] == "MISSING_REQUIRED_PARAMETER"
    assert [r["outcome"] for r in square.requests(BATCH_CREATE)] == [
        "ok", "replayed", "error", "error"]
    assert square.violations()["by_kind"] == {"idempotency_key_reused": 1,
                                              "idempotency_key_missing": 1}


def test_batches_over_100_changes_and_reads_over_1000_are_refused_as_violations(
        square: Square) -> None:
    pen = square.add("PEN", 1)
    changes = [count_change(pen, square.location_id, "1", datetime.now(UTC))] * 101
    too_many = square.api(BATCH_CREATE, {"idempotency_key": "k", "changes": changes})
    too_much = square.api(COUNTS, {"catalog_object_ids": [pen], "limit": 1001})
    assert too_many.json()["errors"][0]["code"] == "ARRAY_LENGTH_TOO_LONG"
    assert too_much.json()["errors"][0]["code"] == "VALUE_TOO_HIGH"
    assert square.violations()["by_kind"] == {"too_many_changes": 1,
                                              "read_limit_out_of_range": 1}


def test_a_retried_push_keeps_its_occurred_at_so_a_sale_made_after_it_still_counts(
        square: Square) -> None:
    square.add("LAMP", 2)

    async def push_through_timeout(c: SquareConnector) -> PushReport:
        await c.discover_mapping(["LAMP"])
        square.admin.post("/_sim/faults", json={"latency_ms": 1000}).raise_for_status()
        c.client.timeout = httpx.Timeout(0.2)
        with pytest.raises(Unavailable):  # the client gives up; Square still applies it
            await c.set_quantities([QuantitySet("LAMP", 3, known=2)])
        c.client.timeout = httpx.Timeout(10.0)
        square.merchant("LAMP", delta=-1)  # sold after our count: 3 -> 2
        square.admin.post("/_sim/faults", json={"latency_ms": 0}).raise_for_status()
        await asyncio.sleep(1.0)
        return await c.set_quantities([QuantitySet("LAMP", 3, known=2)])

    report = square.connect(push_through_timeout)
    pushes = square.requests(BATCH_CREATE)
    assert sorted(p["outcome"] for p in pushes) == ["ok", "replayed"]
    assert pushes[0]["body"] == pushes[1]["body"]  # same key, same occurred_at
    assert square.quantity("LAMP") == 2  # applied once: the sale after it still counts
    # The replayed answer holds the counts of the first attempt, so the value is read back.
    assert report.acknowledged == {"LAMP": 2}
    assert square.violations()["count"] == 0


def test_after_a_restart_an_equal_push_gets_a_new_key_and_is_applied(square: Square) -> None:
    square.add("VASE", 3)

    async def push(c: SquareConnector) -> PushReport:
        await c.discover_mapping(["VASE"])
        return await c.set_quantities([QuantitySet("VASE", 5, known=3)])

    square.connect(push, key_namespace="tenant-1:square")
    square.merchant("VASE", quantity=3)
    report = square.connect(push, key_namespace="tenant-1:square")

    assert report.acknowledged == {"VASE": 5} and square.quantity("VASE") == 5
    pushes = square.requests(BATCH_CREATE)
    assert [p["outcome"] for p in pushes] == ["ok", "ok"]
    assert pushes[0]["idempotency_key"] != pushes[1]["idempotency_key"]
    assert square.violations()["count"] == 0


def test_discovery_pages_the_catalog_and_leaves_out_skus_two_variations_share(
        start_square: Callable[..., Square]) -> None:
    square = start_square(catalog_page_size=4)
    for n in range(9):
        square.add(f"BOX-{n}", 1)
    twins = [square.add("DUP", 1), square.add("DUP", 2, allow_duplicate_sku=True)]

    async def work(c: SquareConnector) -> tuple[dict[str, str], PushReport]:
        found = await c.discover_mapping()
        return found, await c.set_quantities([QuantitySet("DUP", 4),
                                              QuantitySet("BOX-0", 4)])

    found, report = square.connect(work)
    assert set(found) == {f"BOX-{n}" for n in range(9)}
    assert len(square.requests(SEARCH)) == 3  # 11 variations, 4 per page
    assert report.acknowledged == {"BOX-0": 4}
    assert report.rejected["DUP"].startswith("2 Square item variations have this SKU")
    assert all(twin in report.rejected["DUP"] for twin in twins)


def test_changes_square_refuses_are_rejected_and_the_rest_applied(square: Square) -> None:
    for sku in ("OK-1", "GONE-1", "NEG-1"):
        square.add(sku, 1)

    async def work(c: SquareConnector) -> PushReport:
        await c.discover_mapping(["OK-1", "GONE-1", "NEG-1"])
        square.admin.delete("/_sim/items/GONE-1").raise_for_status()  # a stale mapping
        return await c.set_quantities([QuantitySet("OK-1", 5), QuantitySet("GONE-1", 2),
                                       QuantitySet("NEG-1", -2)])

    report = square.connect(work)
    assert report.acknowledged == {"OK-1": 5}
    assert report.rejected["GONE-1"].startswith("NOT_FOUND")
    assert report.rejected["NEG-1"].startswith("INVALID_VALUE")
    assert square.quantity("OK-1") == 5 and square.quantity("NEG-1") == 1
    assert [(p["status"], p["changes"]) for p in square.requests(BATCH_CREATE)] == [
        (400, 3), (200, 1)]


def test_a_token_missing_a_scope_is_rejected(start_square: Callable[..., Square]) -> None:
    square = start_square(scopes=("ITEMS_READ", "INVENTORY_READ"))
    square.add("INK", 1)

    async def push(c: SquareConnector) -> PushReport:
        await c.discover_mapping(["INK"])
        return await c.set_quantities([QuantitySet("INK", 2)])

    with pytest.raises(Rejected, match="INSUFFICIENT_SCOPES"):
        square.connect(push)


def test_a_429_raises_rate_limited_and_halves_the_connectors_pace(square: Square) -> None:
    square.admin.post("/_sim/faults", json={"force_rate_limit": True}).raise_for_status()

    async def work(c: SquareConnector) -> tuple[float, float, float]:
        with pytest.raises(RateLimited) as without_header:
            await c.discover_mapping(["X"])
        rate = c.pacer.rate
        square.admin.post("/_sim/faults", json={"retry_after_s": 2}).raise_for_status()
        with pytest.raises(RateLimited) as with_header:
            await c.discover_mapping(["X"])
        return without_header.value.retry_after, rate, with_header.value.retry_after

    backoff, rate, told = square.connect(work, requests_per_second=20.0)
    assert 0.5 <= backoff <= 1.0  # 1 s back-off with jitter, no Retry-After sent
    assert rate == 10.0 and told == 2.0
    violations = square.violations()
    assert violations["count"] == 0 and violations["forced_rate_limited"] == 2


def test_under_a_burst_the_connector_paces_itself_and_commits_no_violations(
        start_square: Callable[..., Square]) -> None:
    defaults = SquareSimConfig()
    square = start_square(rate_limit_per_second=defaults.rate_limit_per_second,
                          rate_limit_burst=defaults.rate_limit_burst)
    skus = [f"CAN-{n}" for n in range(20)]
    for sku in skus:
        square.add(sku, 0)

    async def burst(c: SquareConnector) -> dict[str, int]:
        await c.discover_mapping(skus)
        reports = await asyncio.gather(*(c.set_quantities([QuantitySet(sku, 3)])
                                         for sku in skus))
        return {sku: n for r in reports for sku, n in r.acknowledged.items()}

    started = time.monotonic()
    acknowledged = square.connect(burst, requests_per_second=DEFAULT_REQUESTS_PER_SECOND,
                                  burst=DEFAULT_BURST)
    assert acknowledged == dict.fromkeys(skus, 3)
    assert time.monotonic() - started > 2.5  # 21 calls at 5/s after a burst of 5
    assert square.violations()["count"] == 0
    # For contrast, an unpaced client against a small bucket (slow enough to refill 4
    # tokens only after 8 s, however loaded this machine is).
    square.admin.post("/_sim/faults", json={"rate_limit_per_second": 0.5,
                                            "rate_limit_burst": 2}).raise_for_status()
    raw = [square.api(SEARCH, {}) for _ in range(6)]
    limited = [r for r in raw if r.status_code == 429]
    assert limited and limited[0].json()["errors"][0] == {
        "category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED",
        "detail": "Rate limit exceeded. Try again later."}
    assert square.violations()["rate_limited"] == len(limited)


class TestSquareContract(KeyedConnectorContract):
    harness: ClassVar[str] = "square"
    wrong_credentials: ClassVar[dict[str, str]] = {"token": "EAAAwrong"}
    refusal: ClassVar[str] = "INVALID_VALUE"

    def shown(self, sim: Square, sku: str) -> int:
        return sim.quantity(sku)

    def pushes(self, sim: Square) -> list[tuple[str, str]]:
        return [(p["idempotency_key"], "replayed" if p["outcome"] == "replayed" else "applied")
                for p in sim.requests(BATCH_CREATE)]
