"""GenericHttpConnector against the generic HTTP receiver simulator, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from stocksync.channels.base import QuantitySet, Unavailable
from stocksync.channels.generic_http import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    GenericHttpConnector,
    sign,
)
from stocksync.simulators.generic_http import GenericHttpSimConfig, create_app
from tests.contract.conftest import Serve
from tests.contract.connector_contract import KeyedConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector

SECRET = "portal-secret"
T = TypeVar("T")


@dataclass
class Portal(SimulatorHarness):
    @property
    def endpoint(self) -> str:
        return f"{self.url}/inventory"

    def requests(self) -> list[dict[str, Any]]:
        return self.requests_where("method", None)

    def connect(self, work: Callable[[GenericHttpConnector], Awaitable[T]], *,
                secret: str = SECRET, timeout: float = 5.0, key_namespace: str | None = None
                ) -> T:
        return run_connector(lambda client: GenericHttpConnector(
            client, self.endpoint, secret, key_namespace=key_namespace), work, timeout)


@pytest.fixture
def portal(serve: Serve) -> Portal:
    return Portal(*serve(create_app(GenericHttpSimConfig(secret=SECRET))))


def test_pushes_and_reads_are_signed(portal: Portal) -> None:
    async def work(c: GenericHttpConnector) -> dict[str, int]:
        await c.set_quantities([QuantitySet("A-1", 3)])
        return await c.fetch_quantities(["A-1"])

    assert portal.connect(work) == {"A-1": 3}
    assert [r["method"] for r in portal.requests()] == ["POST", "GET"]
    assert all(r["signature_valid"] for r in portal.requests())


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


def test_a_receiver_that_is_down_raises_unavailable(portal: Portal) -> None:
    portal.faults(down=True)
    with pytest.raises(Unavailable):
        portal.connect(lambda c: c.set_quantities([QuantitySet("A-1", 3)]))
    assert portal.state()["quantities"] == {}


class TestGenericHttpContract(KeyedConnectorContract):
    harness: ClassVar[str] = "portal"
    wrong_credentials: ClassVar[dict[str, str]] = {"secret": "wrong"}
    refusal: ClassVar[str] = "quantity must be an integer >= 0"

    def seed(self, sim: Portal, stock: dict[str, int]) -> None:
        # A portal is fed only by stocksync: what it has, a push put there.
        report = sim.connect(lambda c: c.set_quantities(
            [QuantitySet(sku, quantity) for sku, quantity in stock.items()]))
        assert report.acknowledged == stock

    def shown(self, sim: Portal, sku: str) -> int:
        return int(sim.state()["quantities"][sku])

    def pushes(self, sim: Portal) -> list[tuple[str, str]]:
        return [(r["delivery_id"], "replayed" if r["outcome"] == "duplicate" else "applied")
                for r in sim.requests() if r["method"] == "POST"]
