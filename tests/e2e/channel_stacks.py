"""One selling platform wired to a live stocksync, for the sales-from-channels e2e tests.

Each `Platform` runs its simulator, registers it as a channel (orders polled every second
where the platform is polled, webhooks wired where it pushes) and knows how a buyer buys
there and how the merchant gives units back. Webhooks reach stocksync through a `Tap` that
forwards them unchanged and keeps them, so a test can deliver one again exactly as the
platform would on a retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from fastapi import FastAPI, Request, Response

from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig
from stocksync.simulators.woocommerce_state import WooCommerceSimConfig

WEBHOOK_SECRET = "sales-e2e-webhook-secret"
POLL_SECONDS = "1"
JsonObject = dict[str, Any]


@dataclass
class Tap:
    """Between the platform and stocksync: forwards each POST unchanged, keeps a copy."""

    target: str = ""
    kept: list[tuple[dict[str, str], bytes]] = field(default_factory=list)  # accepted ones

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() not in ("host", "content-length")}
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(self.target, content=body, headers=headers)
            if answer.is_success and answer.json().get("status") == "accepted":
                self.kept.append((headers, body))
            return Response(answer.content, answer.status_code,
                            media_type=answer.headers.get("content-type"))

        return app

    def deliver_again(self) -> list[str]:
        """Send every accepted delivery once more, byte for byte (a platform retry);
        returns what stocksync answered to each."""
        answers = []
        for headers, body in list(self.kept):
            answer = httpx.post(self.target, content=body, headers=headers, timeout=10)
            assert answer.status_code == 200, answer.text
            answers.append(answer.json()["status"])
        return answers


@dataclass
class Sale:
    order_id: str
    lines: list[str]  # the platform's line ids, in the order sold


class Platform:
    """A platform's simulator and its channel in stocksync (subclasses: one per platform)."""

    kind: ClassVar[str]
    code: ClassVar[str]
    poll_seconds: ClassVar[str] = POLL_SECONDS  # settings.order_poll_seconds

    def __init__(self, stack: ExitStack, app: Any) -> None:
        self.sim = stack.enter_context(ServerThread(app))
        self.tap = Tap()
        self.tap_server = stack.enter_context(ServerThread(self.tap.app()))
        self.admin = stack.enter_context(httpx.Client(base_url=self.sim.url, timeout=10))

    @property
    def hook_url(self) -> str:
        return self.tap_server.url + "/hook"

    def post(self, path: str, body: JsonObject) -> Any:
        answer = self.admin.post(path, json=body)
        assert answer.is_success, (path, answer.status_code, answer.text)
        return answer.json()

    def state(self) -> JsonObject:
        found: JsonObject = self.admin.get("/_sim/state").json()
        return found

    def connect(self, client: httpx.Client, server_url: str, locations: list[str]) -> None:
        settings, credentials = self.channel()
        settings["order_poll_seconds"] = self.poll_seconds
        answer = client.post("/v1/channels", json={
            "code": self.code, "kind": self.kind, "name": self.code, "locations": locations,
            "settings": settings, "credentials": credentials})
        assert answer.status_code == 201, answer.text
        self.tap.target = server_url + answer.json()["webhook_path"]
        self.subscribe()

    # -- per platform -------------------------------------------------------------------
    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        raise NotImplementedError

    def subscribe(self) -> None:
        raise NotImplementedError

    def add(self, sku: str) -> None:
        raise NotImplementedError

    def shown(self, sku: str) -> int | None:
        raise NotImplementedError

    def sell(self, sku: str, quantity: int) -> Sale:
        raise NotImplementedError

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        """The merchant takes back `quantity` of the sale's first line (restocked or not);
        returns how many units the platform put back on sale."""
        raise NotImplementedError


class Shopify(Platform):
    kind, code = "shopify", "shop"
    token = "shpat_sales_e2e_token"

    def __init__(self, stack: ExitStack) -> None:
        super().__init__(stack, shopify_app(ShopifySimConfig(access_token=self.token,
                                                             webhook_retry_scale=0.0001)))
        self.location = str(self.state()["locations"][0]["id"])

    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        return ({"shop_url": self.sim.url, "location_id": self.location},
                {"access_token": self.token, "webhook_secret": WEBHOOK_SECRET})

    def subscribe(self) -> None:
        answer = self.admin.put("/_sim/webhooks", json={"url": self.hook_url,
                                                        "secret": WEBHOOK_SECRET})
        assert answer.is_success, answer.text

    def add(self, sku: str) -> None:
        self.post("/_sim/products", {"sku": sku, "quantities": {self.location: 0}})

    def shown(self, sku: str) -> int | None:
        value: int | None = self.state()["available"].get(sku, {}).get(self.location)
        return value

    def sell(self, sku: str, quantity: int) -> Sale:
        order = self.post("/_sim/orders", {"line_items": [{"sku": sku, "quantity": quantity}]})
        return Sale(str(order["id"]), [str(line["id"]) for line in order["line_items"]])

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        # Units not yet fulfilled come back with restock_type "cancel" (RefundLineItem-
        # RestockType: CANCEL restocks unfulfilled items, RETURN fulfilled ones).
        self.post(f"/_sim/orders/{sale.order_id}/refunds", {"refund_line_items": [{
            "line_item_id": int(sale.lines[0]), "quantity": quantity,
            "restock_type": "cancel" if restock else "no_restock"}]})
        return quantity if restock else 0


class WooCommerce(Platform):
    kind, code = "woocommerce", "woo"

    def __init__(self, stack: ExitStack) -> None:
        super().__init__(stack, woocommerce.create_app(WooCommerceSimConfig()))

    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        return ({"store_url": self.sim.url},
                {"consumer_key": "ck_stocksync_simulator",
                 "consumer_secret": "cs_stocksync_simulator", "webhook_secret": WEBHOOK_SECRET})

    def subscribe(self) -> None:
        answer = self.admin.put("/_sim/webhooks", json={"url": self.hook_url,
                                                        "secret": WEBHOOK_SECRET})
        assert answer.is_success, answer.text

    def add(self, sku: str) -> None:
        self.post("/_sim/items", {"sku": sku, "quantity": 0})

    def shown(self, sku: str) -> int | None:
        value: int | None = self.state()["quantities"].get(sku)
        return value

    def sell(self, sku: str, quantity: int) -> Sale:
        order = self.post("/_sim/orders", {"line_items": [{"sku": sku, "quantity": quantity}]})
        return Sale(str(order["id"]), [str(line["id"]) for line in order["line_items"]])

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        # wc_create_refund restocks only when asked ("Restock refunded items").
        self.post(f"/_sim/orders/{sale.order_id}/refunds", {
            "line_items": [{"id": int(sale.lines[0]), "quantity": quantity}],
            "restock": restock})
        return quantity if restock else 0


class Square(Platform):
    kind, code = "square", "square"
    location = "LSTOCKSYNC001"

    def __init__(self, stack: ExitStack) -> None:
        super().__init__(stack, square.create_app())

    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        # Square signs the notification URL with the body: the URL it posts to is the tap's.
        return ({"base_url": self.sim.url, "location_id": self.location,
                 "notification_url": self.hook_url},
                {"access_token": "EAAAEstocksyncSimulatorAccessToken",
                 "signature_key": WEBHOOK_SECRET})

    def subscribe(self) -> None:
        answer = self.admin.put("/_sim/webhooks", json={"url": self.hook_url,
                                                        "signature_key": WEBHOOK_SECRET})
        assert answer.is_success, answer.text

    def add(self, sku: str) -> None:
        self.post("/_sim/items", {"sku": sku, "quantity": 0})

    def shown(self, sku: str) -> int | None:
        value: int | None = self.state()["quantities"].get(sku, {}).get(self.location)
        return value

    def sell(self, sku: str, quantity: int) -> Sale:
        # A till sale (POS): Square notifies only inventory.count.updated; the order itself
        # is found by the poll (order.created fires only for CreateOrder).
        order = self.post("/_sim/orders", {"lines": [{"sku": sku, "quantity": str(quantity)}]})
        return Sale(order["id"], [line["uid"] for line in order["line_items"]])

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        self.post(f"/_sim/orders/{sale.order_id}/returns", {
            "lines": [{"line_uid": sale.lines[0], "quantity": str(quantity)}],
            "restock": restock})
        return quantity if restock else 0


class Ebay(Platform):
    """`restock_cancellations`: the merchant relists a cancelled order's units (the
    Fulfillment API does not say whether they were; channels/ebay_orders.py)."""

    kind, code = "ebay", "ebay-us"
    app_id, cert_id, refresh = ("stocksync-sim-app", "stocksync-sim-cert",
                                "v^1.1#i^1#stocksync-sim-refresh")

    def __init__(self, stack: ExitStack, restock_cancellations: bool = True) -> None:
        super().__init__(stack, ebay.create_app())
        self.relists = restock_cancellations

    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        return ({"api_url": self.sim.url,
                 "restock_cancellations": "true" if self.relists else "false"},
                {"client_id": self.app_id, "client_secret": self.cert_id,
                 "refresh_token": self.refresh, "notification_keys": self.public_keys()})

    def public_keys(self) -> str:
        """The notification signing key, read as a deployment does (getPublicKey with an
        application token)."""
        kid = self.admin.get("/_sim/notifications").json()["kid"]
        token = self.admin.post("/identity/v1/oauth2/token", auth=(self.app_id, self.cert_id),
                                data={"grant_type": "client_credentials",
                                      "scope": "https://api.ebay.com/oauth/api_scope"}
                                ).json()["access_token"]
        key = self.admin.get(f"/commerce/notification/v1/public_key/{kid}",
                             headers={"Authorization": f"Bearer {token}"})
        assert key.status_code == 200, key.text
        return json.dumps({kid: key.json()})

    def subscribe(self) -> None:
        answer = self.admin.put("/_sim/notifications", json={"url": self.hook_url})
        assert answer.is_success, answer.text

    def add(self, sku: str) -> None:
        self.post("/_sim/items", {"sku": sku, "quantity": 0})

    def shown(self, sku: str) -> int | None:
        value: int | None = self.state()["items"].get(sku, {}).get("listed_quantity")
        return value

    def sell(self, sku: str, quantity: int) -> Sale:
        order = self.post("/_sim/orders", {"sku": sku, "quantity": quantity})
        return Sale(order["orderId"], [line["lineItemId"] for line in order["lineItems"]])

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        """The whole order is cancelled (`quantity` is what it sold); relisted if asked."""
        self.post(f"/_sim/orders/{sale.order_id}/cancel", {"relist": restock})
        return quantity if restock and self.relists else 0


class Amazon(Platform):
    kind, code = "amazon", "amazon-us"
    # getOrders refills one token a minute (burst 20): a poll a second would run dry
    # within a test. ORDER_CHANGE is the fast path anyway.
    poll_seconds = "2"

    def __init__(self, stack: ExitStack) -> None:
        super().__init__(stack, amazon.create_app(AmazonSimConfig(feed_processing_delay_s=0.2)))

    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        return ({"endpoint": self.sim.url, "token_url": self.sim.url + "/auth/o2/token",
                 "seller_id": "A1STOCKSYNCSIM", "marketplace_id": "ATVPDKIKX0DER"},
                {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
                 "lwa_client_secret": "stocksync-sim-client-secret",
                 "refresh_token": "Atzr|stocksync-sim-refresh-token",
                 "webhook_secret": WEBHOOK_SECRET})

    def subscribe(self) -> None:
        answer = self.admin.put("/_sim/order-change-forwarding", json={
            "url": self.hook_url, "secret": WEBHOOK_SECRET})
        assert answer.is_success, answer.text

    def add(self, sku: str) -> None:
        self.post("/_sim/items", {"sku": sku, "quantity": 0})

    def shown(self, sku: str) -> int | None:
        value: int | None = self.state()["quantities"].get(sku)
        return value

    def sell(self, sku: str, quantity: int) -> Sale:
        order = self.post("/_sim/orders", {"items": [{"sku": sku, "quantity": quantity}]})
        return Sale(order["AmazonOrderId"],
                    [item["OrderItemId"] for item in order["OrderItems"]])

    def give_back(self, sale: Sale, quantity: int, restock: bool) -> int:
        """The order is cancelled: by the buyer (Amazon puts the units back on the listing)
        or by the seller for lack of stock (it does not)."""
        self.post(f"/_sim/orders/{sale.order_id}/cancel",
                  {"reason": "BuyerCanceled" if restock else "NoInventory"})
        return quantity if restock else 0


PLATFORMS: dict[str, Callable[[ExitStack], Platform]] = {
    "shopify": Shopify, "woocommerce": WooCommerce, "square": Square, "ebay": Ebay,
    "amazon": Amazon,
    # eBay does not say whether a cancelled order's units were relisted: per channel.
    "ebay-no-relist": lambda stack: Ebay(stack, restock_cancellations=False)}
