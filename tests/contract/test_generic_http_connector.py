"""GenericHttpConnector against the generic HTTP receiver simulator, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from stocksync.channels.base import QuantitySet, Rejected, Unavailable
from stocksync.channels.generic_http import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    GenericHttpConnector,
    sign,
)
from stocksync.simulators.generic_http import GenericHttpSimConfig, create_app
from stocksync.simulators.server import ServerThread

SECRET = "portal-secret"
T = TypeVar("T")


@dataclass
class Portal:
    server: ServerThread
    admin: httpx.Client

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/inventory"

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.admin.get("/_sim/state").json()
        return body

    def requests(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.admin.get("/_sim/requests").json()
        return records

    def faults(self, **faults: Any) -> None:
        self.admin.post("/_sim/faults", json=faults).raise_for_status()

    def connect(self, work: Callable[[GenericHttpConnector], Awaitable[T]], *,
                secret: str = SECRET, timeout: float = 5.0, key_namespace: str | None = None
                ) -> T:
        """Run `work` with a fresh connector (a new process, as far as it can tell)."""
        async def main() -> T:
            async with httpx.AsyncClient(timeout=timeout) as client:
                return await work(GenericHttpConnector(client, self.endpoint, secret,
                                                       key_namespace=key_namespace))

        return asyncio.run(main())


@pytest.fixture
def portal() -> Iterator[Portal]:
    with ServerThread(create_app(GenericHttpSimConfig(secret=SECRET))) as server, \
            httpx.Client(base_url=server.url, timeout=5) as admin:
        yield Portal(server, admin)


def test_signed_pushes_are_applied_and_read_back(portal: Portal) -> None:
    async def work(c: GenericHttpConnector) -> tuple[Any, dict[str, int]]:
        report = await c.set_quantities([QuantitySet("A-1", 3), QuantitySet("B-2", 0),
                                         QuantitySet("A-1", 5)])  # last value wins
        return report, await c.fetch_quantities(["A-1", "B-2", "UNKNOWN"])

    report, fetched = portal.connect(work)
    assert report.acknowledged == {"A-1": 5, "B-2": 0}
    assert fetched == {"A-1": 5, "B-2": 0}
    assert portal.state()["quantities"] == {"A-1": 5, "B-2": 0}
    assert all(r["signature_valid"] for r in portal.requests())


def test_a_wrong_secret_gets_401_and_is_rejected(portal: Portal) -> None:
    with pytest.raises(Rejected):
        portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", 3)]), secret="wrong")
    assert portal.state() == {"quantities": {}, "deliveries": 0, "unauthorized_count": 1}


def test_a_tampered_body_fails_the_signature_check(portal: Portal) -> None:
    body = json.dumps({"delivery_id": "d-1", "quantities": [{"sku": "A-1", "quantity": 1}]})
    signature = sign(SECRET, body.encode())
    tampered = body.replace('"quantity": 1', '"quantity": 100')
    response = portal.admin.post("/inventory", content=tampered, headers={
        SIGNATURE_HEADER: signature, DELIVERY_HEADER: "d-1"})
    assert response.status_code == 401
    accepted = portal.admin.post("/inventory", content=body, headers={
        SIGNATURE_HEADER: signature, DELIVERY_HEADER: "d-1"})
    assert accepted.status_code == 200
    assert portal.state()["quantities"] == {"A-1": 1}


def test_a_redelivered_delivery_id_is_applied_once(portal: Portal) -> None:
    def deliver(quantity: int) -> str:
        body = json.dumps({"delivery_id": "d-7",
                           "quantities": [{"sku": "A-1", "quantity": quantity}]}).encode()
        response = portal.admin.post("/inventory", content=body, headers={
            SIGNATURE_HEADER: sign(SECRET, body), DELIVERY_HEADER: "d-7"})
        response.raise_for_status()
        return str(response.json()["status"])

    assert [deliver(4), deliver(9)] == ["applied", "duplicate"]
    assert portal.state()["quantities"] == {"A-1": 4}


def test_a_retried_push_reuses_its_delivery_id_and_a_later_identical_push_does_not(
        portal: Portal) -> None:
    async def work(c: GenericHttpConnector) -> None:
        portal.faults(fail_next_n=1, fail_status=500)
        with pytest.raises(Unavailable):
            await c.set_quantities([QuantitySet("A-1", 3)])
        await c.set_quantities([QuantitySet("A-1", 3)])  # the retry
        await c.set_quantities([QuantitySet("A-1", 4)])
        await c.set_quantities([QuantitySet("A-1", 3)])  # stock back at 3: a new push

    portal.connect(work)
    posts = [r for r in portal.requests() if r["method"] == "POST"]
    assert [r["outcome"] for r in posts] == ["fault", "applied", "applied", "applied"]
    assert posts[0]["delivery_id"] == posts[1]["delivery_id"] != posts[3]["delivery_id"]
    assert portal.state()["quantities"] == {"A-1": 3}


def test_after_a_restart_an_identical_push_is_not_dropped_as_a_duplicate(
        portal: Portal) -> None:
    def push(quantity: int) -> Any:  # each push from a restarted process, same namespace
        return portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", quantity)]),
                              key_namespace="tenant-1:portal")

    push(3)
    push(4)
    report = push(3)  # same content as the first push, so the same first delivery id

    assert report.acknowledged == {"A-1": 3}
    assert portal.state()["quantities"] == {"A-1": 3}
    outcomes = [r["outcome"] for r in portal.requests()]
    assert outcomes == ["applied", "applied", "duplicate", "applied"]


@pytest.mark.parametrize("faults", [{"fail_next_n": 1, "fail_status": 503},
                                    {"fail_next_n": 1, "fail_status": 500},
                                    {"down": True}])
def test_receiver_failures_raise_unavailable(portal: Portal, faults: dict[str, Any]) -> None:
    portal.faults(**faults)
    with pytest.raises(Unavailable):
        portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", 3)]))
    assert portal.state()["quantities"] == {}


def test_a_slow_receiver_times_out_as_unavailable(portal: Portal) -> None:
    portal.faults(latency_ms=500)
    with pytest.raises(Unavailable):
        portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", 3)]), timeout=0.1)


def test_skus_the_receiver_refuses_are_rejected_and_the_rest_applied(portal: Portal) -> None:
    report = portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", 2),
                                                        QuantitySet("BAD", -1)]))
    assert report.acknowledged == {"A-1": 2}
    assert set(report.rejected) == {"BAD"}
    assert portal.state()["quantities"] == {"A-1": 2}
