"""eBay notifications: the parser over eBay's published payloads (tests/fixtures/ebay), and
ORDER_CONFIRMATION from the simulator, signed as eBay signs, through verify -> parse ->
OrderNotice -> fetch_orders, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from stocksync.channels.ebay import EbayConnector
from stocksync.channels.ebay_auth import EbaySession
from stocksync.channels.ebay_orders import EbayOrders
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    MalformedWebhook,
    OrderNotice,
)
from stocksync.ingest.ebay import EbayNotificationParser, challenge_response
from stocksync.ingest.registry import parser_for
from stocksync.simulators.ebay import EbaySimConfig, create_app
from stocksync.simulators.server import ServerThread

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ebay"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "notify-app", "notify-cert", "v^1.1#notify"
PARSER = EbayNotificationParser()
TOKEN = "stocksync-verification-token-0123456789abcdef"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def keys(messages: list[InboundMessage]) -> set[str]:
    return {m.key for m in messages if isinstance(m, ChannelSale | ChannelReturn)}


# -- the parser over eBay's payloads -----------------------------------------------------
def test_the_ebay_kind_has_this_parser() -> None:
    assert isinstance(parser_for("ebay"), EbayNotificationParser)


def test_an_order_confirmation_names_the_order_to_fetch() -> None:
    parsed = PARSER.parse({}, fixture("order_confirmation.json"), {})
    assert parsed.topic == "ORDER_CONFIRMATION"
    assert parsed.delivery_id == ("2164dd73-bb14-443a-b0a1-a048384ef13c_"
                                  "e1a34a5e-fe2e-4568-896a-e701a75b9fba")
    assert parsed.messages == [OrderNotice("12-12345-67890")]


def test_other_topics_are_acknowledged_and_ignored() -> None:
    parsed = PARSER.parse({}, fixture("marketplace_account_deletion.json"), {})
    assert parsed.topic == "MARKETPLACE_ACCOUNT_DELETION"
    assert [type(m) for m in parsed.messages] == [Ignored]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda p: p["notification"]["data"]["order"].pop("orderId"),
     "notification.data.order.orderId"),
    (lambda p: p["notification"].pop("notificationId"), "notification.notificationId"),
    (lambda p: p.pop("metadata"), "metadata"),
    (lambda p: p["notification"].update(data=[]), "notification.data"),
])
def test_a_malformed_notification_names_the_field(mutate: Any, field: str) -> None:
    payload = json.loads(fixture("order_confirmation.json"))
    mutate(payload)
    with pytest.raises(MalformedWebhook) as caught:
        PARSER.parse({}, json.dumps(payload).encode(), {})
    assert caught.value.details["field"] == field


def test_the_endpoint_challenge_is_answered_as_ebay_computes_it() -> None:
    # Vector from the channel notes (ebay.md §6.1): SHA-256(code + token + endpoint).
    assert challenge_response("a8628072-3d33-45ee-9004-bee86830a22d",
                              "71745723-d031-455c-bfa5-f90d11b4f20a",
                              "https://www.testendpoint.com/webhook") == (
        "a1d8c12dc8f31594e78e3f2c7032c34746144c28ffbdee1cd9cbd4fd2fc618c6")


def test_get_orders_lines_become_sales_of_this_marketplace_only() -> None:
    body = json.loads(fixture("get_orders_response.json"))

    def messages(restock: bool) -> list[InboundMessage]:
        session = EbaySession(httpx.AsyncClient(), "http://127.0.0.1:9", "a", "b", "c")
        orders = EbayOrders(session, "EBAY_US", restock_cancellations=restock)
        return [m for order in body["orders"] for m in orders.messages(order)]

    plain = messages(restock=False)
    assert [m for m in plain if isinstance(m, ChannelSale)] == [
        ChannelSale("MUG-BLUE", 2, "ebay:12-12345-67890:10084048110913",
                    occurred_at=datetime(2026, 1, 18, 22, 6, 59, tzinfo=UTC),
                    reference="1041"),
        ChannelSale("MUG-BLUE", 1, "ebay:12-12345-67891:10084048110900",
                    occurred_at=datetime(2026, 1, 18, 20, 0, tzinfo=UTC), reference="1040")]
    assert sum(isinstance(m, Ignored) for m in plain) == 2  # the EBAY_GB line, the cancel
    restocked = [m for m in messages(restock=True) if isinstance(m, ChannelReturn)]
    assert restocked == [ChannelReturn(
        "MUG-BLUE", 1, "ebay:12-12345-67891:10084048110900:cancel",
        sale_key="ebay:12-12345-67891:10084048110900",
        occurred_at=datetime(2026, 1, 18, 21, 0, tzinfo=UTC), reference="1040")]


# -- signed deliveries from the simulator ------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """The merchant's endpoint: records what eBay POSTs (headers lower-cased)."""
    got: list[tuple[dict[str, str], bytes]] = []
    app = FastAPI()

    @app.get("/webhooks/ebay/hook")
    async def challenge(challenge_code: str, request: Request) -> dict[str, str]:
        endpoint = str(request.url.remove_query_params("challenge_code"))
        return {"challengeResponse": challenge_response(challenge_code, TOKEN, endpoint)}

    @app.post("/webhooks/ebay/hook")
    async def hook(request: Request) -> dict[str, str]:
        got.append(({k.lower(): v for k, v in request.headers.items()},
                    await request.body()))
        return {"status": "accepted"}

    with ServerThread(app) as server:
        yield f"{server.url}/webhooks/ebay/hook", got


@pytest.fixture
def ebay(receiver: tuple[str, list[Any]]) -> Iterator[httpx.Client]:
    app = create_app(EbaySimConfig(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                   refresh_token=REFRESH_TOKEN,
                                   notification_url=receiver[0]))
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=5) as admin:
        yield admin


def wait_for(got: list[Any], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(got) == count


def test_a_signed_order_confirmation_leads_to_the_same_sale_as_the_poll(
        ebay: httpx.Client, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
        ) -> None:
    url, got = receiver
    ebay.post("/_sim/items", json={"sku": "MUG", "quantity": 5}).raise_for_status()
    created = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    order = ebay.post("/_sim/orders", json={"sku": "MUG", "quantity": 2}).json()
    wait_for(got, 1)
    headers, body = got[0]
    kid = json.loads(base64.b64decode(headers["x-ebay-signature"]))["kid"]

    async def work() -> tuple[str, list[InboundMessage], list[InboundMessage]]:
        async with httpx.AsyncClient(timeout=5) as client:
            c = EbayConnector(client, str(ebay.base_url).rstrip("/"), CLIENT_ID,
                              CLIENT_SECRET, REFRESH_TOKEN)
            secret = await c.notification_keys.credential([kid])
            assert PARSER.verify(secret, headers, body, url)
            notices = PARSER.parse(headers, body, {}).messages
            assert notices == [OrderNotice(order["orderId"])]
            fetched = await c.fetch_orders([n.order_id for n in notices
                                            if isinstance(n, OrderNotice)])
            return secret, fetched, (await c.poll_orders(created)).messages

    secret, fetched, polled = asyncio.run(work())
    assert keys(fetched) == keys(polled) == {
        f"ebay:{order['orderId']}:{order['lineItems'][0]['lineItemId']}"}
    # Anything else fails: a changed body, another key id, no keys at all.
    assert not PARSER.verify(secret, headers, body.replace(b'"quantity":2', b'"quantity":3'),
                             url)
    assert not PARSER.verify(json.dumps({"other-kid": json.loads(secret)[kid]}), headers,
                             body, url)
    assert not PARSER.verify("", headers, body, url)
    assert not PARSER.verify(secret, {}, body, url)


def test_the_public_key_needs_an_application_token(ebay: httpx.Client) -> None:
    kid = ebay.get("/_sim/notifications").json()["kid"]
    user = ebay.post("/identity/v1/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}).json()["access_token"]
    refused = ebay.get(f"/commerce/notification/v1/public_key/{kid}",
                       headers={"Authorization": f"Bearer {user}"})
    assert refused.status_code == 403


def test_ebay_validates_the_endpoint_with_a_challenge_before_using_it(
        ebay: httpx.Client, receiver: tuple[str, list[Any]]) -> None:
    url = receiver[0]
    accepted = ebay.put("/_sim/notifications", json={"url": url, "verification_token": TOKEN})
    assert accepted.status_code == 200 and accepted.json()["verified"] is True
    refused = ebay.put("/_sim/notifications", json={"url": url,
                                                    "verification_token": "another-token"})
    assert refused.status_code == 409
