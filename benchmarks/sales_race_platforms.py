"""The five platforms of the sales race: their simulators (in this process), the stocksync
channel over each, the webhooks/notifications each platform sends to stocksync, and how a
shopper places an order at each one.

How a sale made at each platform reaches stocksync (channel defaults unless said):

| kind        | push (fast path)                                          | poll (backup) |
|-------------|-----------------------------------------------------------|---------------|
| shopify     | orders/create webhook, with its lines                     | 30 s          |
| woocommerce | order.created / order.updated webhooks, with their lines  | 60 s          |
| ebay        | ORDER_CONFIRMATION notification -> getOrder (fetch)       | 30 s          |
| amazon      | ORDER_CHANGE (SQS, forwarded) -> getOrder + getOrderItems | 120 s         |
| square      | none for a till sale (inventory.count.updated only)       | 30 s          |

A Square till (POS) sale publishes no order event (Square: "Creating an order in the Point
of Sale app will not publish this event"), only `inventory.count.updated`; its order
reaches stocksync through the orders poll. Square also lets a till sell below zero, so the
shopper here sells at Square only what Square shows (read just before the sale); every
other simulator refuses an order it cannot cover (409).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from benchmarks.marketplaces import (
    SQUARE_LOCATION,
    amazon_shown,
    ebay_shown,
    shopify_shown,
    square_shown,
    woo_shown,
)
from benchmarks.propagation import LOCATION
from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig

Json = dict[str, Any]
SHOPIFY_TOKEN = "shpat_sales_race_bench_token"
HOOK_SECRET = "sales-race-webhook-secret"  # Shopify, WooCommerce, the Amazon forwarder
SQUARE_SIGNATURE_KEY = "sales-race-square-signature-key"
EBAY_VERIFICATION_TOKEN = "stocksync-sales-race-verification-token-0123456789"
EBAY_APP_SCOPE = "https://api.ebay.com/oauth/api_scope"
AMAZON_FEED_DELAY_S = 0.5
REFUSED_NOT_SHOWN = 409  # what a refusal is recorded as (Square's refusal is ours)


@dataclass(frozen=True, slots=True)
class Platform:
    code: str
    kind: str
    sim: ServerThread
    settings: dict[str, str]
    credentials: dict[str, str]
    shown: Callable[[Json], dict[str, int]]  # /_sim/state -> sku -> quantity shown
    push: str  # how its orders reach stocksync without waiting for the poll
    poll_default_s: float  # the connector's order_poll_seconds

    def state(self, http: httpx.Client) -> dict[str, int]:
        return self.shown(http.get(self.sim.url + "/_sim/state").json())

    def violations(self, http: httpx.Client) -> tuple[int, Json]:
        """Rate-limit violations the simulator recorded. Shopify has no violations log:
        its THROTTLED answers (a request over the cost bucket) stand in for them."""
        if self.kind == "shopify":
            throttled = int(http.get(self.sim.url + "/_sim/state").json()["throttled_count"])
            return throttled, {"throttled": throttled}
        report: Json = http.get(self.sim.url + "/_sim/violations").json()
        return int(report.get("count") or 0), report


@contextmanager
def platforms(skus: Sequence[str]) -> Iterator[list[Platform]]:
    """The five simulators, each listing every SKU at 0 (stocksync's first push sets it)."""
    with ExitStack() as stack:
        def serve(app: Any) -> ServerThread:
            return stack.enter_context(ServerThread(app))

        shop = serve(shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN)))
        sims = {"ebay": serve(ebay.create_app()),
                "amazon": serve(amazon.create_app(
                    AmazonSimConfig(feed_processing_delay_s=AMAZON_FEED_DELAY_S))),
                "woo": serve(woocommerce.create_app()), "square": serve(square.create_app())}
        with httpx.Client(timeout=30) as http:
            location = str(http.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
            for sku in skus:
                http.post(shop.url + "/_sim/products",
                          json={"sku": sku, "quantities": {location: 0}}).raise_for_status()
                for sim in sims.values():
                    http.post(sim.url + "/_sim/items",
                              json={"sku": sku, "quantity": 0}).raise_for_status()
            ebay_keys = ebay_notification_keys(http, sims["ebay"].url)
        amazon_url, hook = sims["amazon"].url, {"webhook_secret": HOOK_SECRET}
        yield [
            Platform("shop", "shopify", shop, {"shop_url": shop.url, "location_id": location},
                     {"access_token": SHOPIFY_TOKEN, **hook}, partial(shopify_shown, location),
                     "orders/create webhook", 30.0),
            Platform("woo", "woocommerce", sims["woo"], {"store_url": sims["woo"].url},
                     {"consumer_key": "ck_stocksync_simulator",
                      "consumer_secret": "cs_stocksync_simulator", **hook}, woo_shown,
                     "order.created webhook", 60.0),
            Platform("square", "square", sims["square"],
                     {"base_url": sims["square"].url, "location_id": SQUARE_LOCATION},
                     {"access_token": "EAAAEstocksyncSimulatorAccessToken",
                      "signature_key": SQUARE_SIGNATURE_KEY}, square_shown,
                     "none (till sale: count notice only)", 30.0),
            Platform("ebay-us", "ebay", sims["ebay"], {"api_url": sims["ebay"].url},
                     {"client_id": "stocksync-sim-app", "client_secret": "stocksync-sim-cert",
                      "refresh_token": "v^1.1#i^1#stocksync-sim-refresh",
                      "notification_keys": ebay_keys,
                      "notification_verification_token": EBAY_VERIFICATION_TOKEN},
                     ebay_shown, "ORDER_CONFIRMATION -> getOrder", 30.0),
            Platform("amazon-us", "amazon", sims["amazon"],
                     {"endpoint": amazon_url, "token_url": amazon_url + "/auth/o2/token",
                      "seller_id": "A1STOCKSYNCSIM", "marketplace_id": "ATVPDKIKX0DER"},
                     {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
                      "lwa_client_secret": "stocksync-sim-client-secret",
                      "refresh_token": "Atzr|stocksync-sim-refresh-token", **hook},
                     amazon_shown, "ORDER_CHANGE -> getOrder + getOrderItems", 120.0),
        ]


def ebay_notification_keys(http: httpx.Client, url: str) -> str:
    """The `notification_keys` credential: the public key eBay signs notifications with,
    read as a deployment does (application token, then getPublicKey by key id)."""
    kid = http.get(url + "/_sim/notifications").json()["kid"]
    token = http.post(url + "/identity/v1/oauth2/token",
                      auth=("stocksync-sim-app", "stocksync-sim-cert"),
                      data={"grant_type": "client_credentials", "scope": EBAY_APP_SCOPE})
    token.raise_for_status()
    key = http.get(f"{url}/commerce/notification/v1/public_key/{kid}",
                   headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    key.raise_for_status()
    body = key.json()
    return json.dumps({kid: {"key": body["key"], "algorithm": body.get("algorithm"),
                             "digest": body.get("digest")}})


def add_channels(api: httpx.Client, base_url: str, found: Sequence[Platform],
                 poll_seconds: float | None) -> None:
    """One channel per platform over the same location, then each platform told where to
    send its webhooks/notifications (the path stocksync shows on the channel)."""
    for p in found:
        settings = dict(p.settings)
        if poll_seconds is not None:
            settings["order_poll_seconds"] = f"{poll_seconds:g}"
        r = api.post("/v1/channels", json={
            "code": p.code, "kind": p.kind, "name": f"{p.kind} (simulator)",
            "locations": [LOCATION], "settings": settings, "credentials": p.credentials})
        if r.status_code != 201:
            raise RuntimeError(f"creating channel {p.code}: {r.status_code} {r.text}")
        wire(p, base_url + r.json()["webhook_path"])


def wire(p: Platform, url: str) -> None:
    route, body = {
        "shopify": ("/_sim/webhooks", {"url": url, "secret": HOOK_SECRET}),
        "woocommerce": ("/_sim/webhooks", {"url": url, "secret": HOOK_SECRET}),
        "square": ("/_sim/webhooks", {"url": url, "signature_key": SQUARE_SIGNATURE_KEY}),
        "ebay": ("/_sim/notifications", {"url": url,
                                         "verification_token": EBAY_VERIFICATION_TOKEN}),
        "amazon": ("/_sim/order-change-forwarding", {"url": url, "secret": HOOK_SECRET}),
    }[p.kind]
    r = httpx.put(p.sim.url + route, json=body, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"wiring {p.code}'s webhooks: {r.status_code} {r.text}")


# ---- a shopper at each platform ----------------------------------------------------------


def place(http: httpx.Client, p: Platform, sku: str, quantity: int) -> tuple[int, str | None]:
    """(status, platform order id) of one order of `quantity` units of `sku` at `p`."""
    url = p.sim.url + "/_sim/orders"
    match p.kind:
        case "shopify":
            r = http.post(url, json={"line_items": [{"sku": sku, "quantity": quantity}]})
            return r.status_code, str(r.json()["id"]) if r.status_code == 201 else None
        case "woocommerce":
            r = http.post(url, json={"line_items": [{"sku": sku, "quantity": quantity}]})
            return r.status_code, str(r.json()["id"]) if r.status_code == 201 else None
        case "ebay":
            r = http.post(url, json={"sku": sku, "quantity": quantity})
            return r.status_code, str(r.json()["orderId"]) if r.status_code == 201 else None
        case "amazon":
            r = http.post(url, json={"items": [{"sku": sku, "quantity": quantity}]})
            return r.status_code, (str(r.json()["AmazonOrderId"]) if r.status_code == 201
                                   else None)
        case "square":
            if p.state(http).get(sku, 0) < quantity:  # a till would sell it anyway
                return REFUSED_NOT_SHOWN, None
            r = http.post(url, json={"lines": [{"sku": sku, "quantity": str(quantity)}]})
            return r.status_code, str(r.json()["id"]) if r.status_code == 201 else None
    raise ValueError(f"no shopper for {p.kind}")
