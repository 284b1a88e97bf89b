"""Bad input gets a 4xx, never a 5xx, on SQLite and PostgreSQL; nothing leaks without a key."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import httpx
import pytest

from tests.conftest import LiveServer, Tenant, seed

HUGE = str(10**23)  # written out as digits: no 64-bit integer holds it
POS_SECRET = "till-secret-hardening"
SKUS_TO_CLASH = 4


def _pos_channel(client: httpx.Client) -> str:
    seed(client, {"TEE-1": {"NYC": 5}})
    r = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "NYC till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"}, "credentials": {"webhook_secret": POS_SECRET}})
    assert r.status_code == 201, r.text
    path: str = r.json()["webhook_path"]
    return path


def test_health_and_readiness_name_no_tenant_and_no_channel(
        server: LiveServer, client: httpx.Client, tenant: Tenant) -> None:
    _pos_channel(client)
    for path in ("/v1/health", "/v1/ready"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200, r.text
        assert tenant.id not in r.text and "till" not in r.text, r.text
    assert httpx.get(server.url + "/v1/ready").json()["channels"]["total"] == 1


def test_integers_beyond_64_bits_are_refused_with_422(client: httpx.Client) -> None:
    seed(client, {"TEE-1": {"NYC": 5}})
    for path in (f"/v1/events?after={HUGE}", f"/v1/stock/TEE-1/history?after={HUGE}",
                 f"/v1/stock?sku=TEE-1&as_of_sequence={HUGE}", f"/v1/inbox?after={HUGE}",
                 f"/v1/stock/TEE-1?as_of_sequence={HUGE}"):
        r = client.get(path)
        assert r.status_code == 422, (path, r.text)
    assert client.post(f"/v1/inbox/{HUGE}/replay").status_code == 422
    r = client.post("/v1/movements", json={"type": "count", "sku": "TEE-1", "location": "NYC",
                                           "quantity": 3, "expected_version": 10**23})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00",
                                    "9999-12-31T23:30:00-01:00"])
def test_times_that_overflow_in_utc_are_refused_with_422(client: httpx.Client,
                                                         moment: str) -> None:
    seed(client, {"TEE-1": {"NYC": 5}})
    r = client.post("/v1/movements", json={"type": "count", "sku": "TEE-1", "location": "NYC",
                                           "quantity": 3, "occurred_at": moment})
    assert r.status_code == 422, r.text
    for params in ({"since": moment}, {"until": moment}):
        assert client.get("/v1/events", params=params).status_code == 422
    for path in ("/v1/stock", "/v1/stock/TEE-1"):
        r = client.get(path, params={"sku": "TEE-1", "as_of": moment})
        assert r.status_code == 422, r.text


def test_an_unreadable_last_event_id_is_refused_with_422(client: httpx.Client) -> None:
    for value in ("abc", HUGE, "-3"):
        with client.stream("GET", "/v1/events/stream",
                           headers={"Last-Event-ID": value}) as r:
            assert r.status_code == 422, value
            assert json.loads(r.read())["error"] == "validation_error"


def test_nul_characters_are_refused_with_422_everywhere(client: httpx.Client) -> None:
    seed(client, {"TEE-1": {"NYC": 5}})
    writes: list[Callable[[], httpx.Response]] = [
        lambda: client.put("/v1/items/TEE-2", json={"title": "a\x00b"}),
        lambda: client.put("/v1/items/TEE-2", json={"attributes": {"f\x00": "x"}}),
        lambda: client.put("/v1/locations/X", json={"name": "\x00"}),
        lambda: client.post("/v1/movements", json={"type": "receive", "sku": "TEE-1",
                                                   "location": "NYC", "quantity": 1,
                                                   "reason": "\x00"}),
        lambda: client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 1,
                                                      "reference": "r\x00"}),
    ]
    for send in writes:
        r = send()
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "validation_error"
    for path in ("/v1/stock?sku=TEE%00", "/v1/items?q=%00", "/v1/items?after=%00",
                 "/v1/events?source=%00", "/v1/events?sku=%00", "/v1/events?type=%00",
                 "/v1/reservations/a%00b", "/v1/reconciliations/a%00b",
                 "/v1/stock/TEE-1/history?location=%00", "/v1/channels/till/skus?after=%00"):
        r = client.get(path)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"] == "invalid_input"


def test_a_long_correlation_id_never_fails_a_write_or_a_webhook_ack(
        server: LiveServer, client: httpx.Client) -> None:
    path = _pos_channel(client)
    long_id = "c" * 200
    r = client.post("/v1/movements", headers={"X-Correlation-Id": long_id},
                    json={"type": "receive", "sku": "TEE-1", "location": "NYC", "quantity": 1})
    assert r.status_code == 201, r.text
    assert 1 <= len(r.headers["X-Correlation-Id"]) <= 64
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # inside the replay window
    body = json.dumps({"event": "POS_TRANSACTION_COMPLETE", "timestamp": now,
                       "store_id": "12", "transaction_id": "T-long",
                       "line_items": [{"sku": "TEE-1", "quantity_change": -1}]}).encode()
    digest = hmac.new(POS_SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = httpx.post(server.url + path, content=body, headers={
        "Content-Type": "application/json", "X-POS-Signature": f"sha256={digest}",
        "X-Correlation-Id": long_id})
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    assert 1 <= len(r.headers["X-Correlation-Id"]) <= 64


def _together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls at the same moment, each on its own thread."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


@pytest.fixture
def clients(server: LiveServer, tenant: Tenant) -> Iterator[list[httpx.Client]]:
    made = [httpx.Client(base_url=server.url, headers=tenant.headers, timeout=30)
            for _ in range(SKUS_TO_CLASH)]
    yield made
    for c in made:
        c.close()


def test_concurrent_first_puts_are_one_create_and_replaces(
        client: httpx.Client, clients: list[httpx.Client]) -> None:
    for round_ in range(3):
        loc = f"L{round_}"
        results = _together([partial(c.put, f"/v1/locations/{loc}", json={"name": loc})
                             for c in clients])
        assert sorted(r.status_code for r in results) == [200] * (SKUS_TO_CLASH - 1) + [201]
        sku = f"S-{round_}"
        body = {"title": sku, "barcodes": ["4006381333931"] if round_ == 0 else []}
        results = _together([partial(c.put, f"/v1/items/{sku}", json=body) for c in clients])
        assert sorted(r.status_code for r in results) == [200] * (SKUS_TO_CLASH - 1) + [201]


def test_two_items_claiming_one_barcode_at_once_get_a_4xx_not_a_5xx(
        client: httpx.Client, clients: list[httpx.Client]) -> None:
    results = _together([partial(c.put, f"/v1/items/B-{i}", json={"barcodes": ["96385074"]})
                         for i, c in enumerate(clients)])
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [422] * (SKUS_TO_CLASH - 1), [r.text for r in results]


def test_concurrent_channel_sku_mappings_all_succeed(
        client: httpx.Client, clients: list[httpx.Client]) -> None:
    _pos_channel(client)
    for round_ in range(3):
        results = _together([partial(c.put, f"/v1/channels/till/skus/TEE-{round_}",
                                     json={"external_ids": {"id": str(i)}})
                             for i, c in enumerate(clients)])
        assert [r.status_code for r in results] == [200] * SKUS_TO_CLASH, \
            [r.text for r in results]


def test_validation_errors_keep_details_an_object(client: httpx.Client) -> None:
    r = client.put("/v1/items/TEE-1", json={"titel": "typo"})
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"error", "message", "details"}
    assert body["details"]["errors"][0]["field"] == "titel"
