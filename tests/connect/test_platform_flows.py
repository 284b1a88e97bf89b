"""eBay, Amazon, Square and WooCommerce connected end to end by their own authorisation
flows against their simulators: the channel is created in preview with credentials the
platform accepts (its connection test passes)."""

from __future__ import annotations

from typing import Any

import httpx

from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.ebay_state import EbaySimConfig
from stocksync.simulators.square_state import SquareSimConfig
from tests.connect.conftest import (
    RU_NAME,
    SQLITE_ONLY,
    Platforms,
    browse,
    channels,
    configure,
    eventually,
    query_of,
    start,
)

pytestmark = SQLITE_ONLY  # the nonce storage runs on both in test_shopify_connect.py


def _svc(merchant: httpx.Client) -> Any:
    return merchant.app_svc  # type: ignore[attr-defined]


def _connected(merchant: httpx.Client, kind: str, done: httpx.Response) -> dict[str, Any]:
    assert done.status_code == 201, done.text
    assert done.json() | {"channel": kind, "state": "preview"} == done.json()
    test = merchant.post(f"/v1/channels/{kind}/test").json()
    assert test["ok"] is True, test
    channel: dict[str, Any] = merchant.get(f"/v1/channels/{kind}").json()
    assert channel["has_credentials"] and "credentials" not in channel
    return channel


def test_ebay_consent_code_refresh_token(merchant: httpx.Client, platforms: Platforms) -> None:
    ebay = configure(_svc(merchant), platforms, "ebay")
    started = start(merchant, "ebay")
    consent = query_of(started["authorize_url"])
    assert started["authorize_url"].startswith(ebay + "/oauth2/authorize?")
    assert consent["redirect_uri"] == RU_NAME and consent["response_type"] == "code"
    assert "sell.inventory" in consent["scope"]
    # The developer portal's step: the RuName's accept URL is our callback.
    httpx.post(ebay + "/_sim/oauth/runames", json={
        "ru_name": RU_NAME, "accept_url": started["callback_url"]}).raise_for_status()
    channel = _connected(merchant, "ebay", browse(started["authorize_url"]))
    assert channel["settings"]["api_url"] == ebay
    sim = platforms.app("ebay").state.sim
    # The connection test minted a user token from the stored refresh token.
    assert sim.tokens_issued >= 2 and EbaySimConfig().refresh_token


def test_amazon_website_authorization(merchant: httpx.Client, platforms: Platforms) -> None:
    amazon = configure(_svc(merchant), platforms, "amazon")
    started = start(merchant, "amazon")
    consent = query_of(started["authorize_url"])
    assert started["authorize_url"].startswith(amazon + "/apps/authorize/consent?")
    assert consent["version"] == "beta" and consent["state"]  # the app is a draft
    without_beta = httpx.get(started["authorize_url"].replace("&version=beta", ""))
    assert without_beta.status_code == 400
    channel = _connected(merchant, "amazon", browse(started["authorize_url"]))
    assert channel["settings"]["seller_id"] == AmazonSimConfig().seller_id
    assert channel["settings"]["marketplace_id"] == AmazonSimConfig().marketplace_id


def test_square_authorize_obtain_token_and_refresh(merchant: httpx.Client,
                                                   platforms: Platforms) -> None:
    square = configure(_svc(merchant), platforms, "square")
    location = SquareSimConfig().location_id
    started = start(merchant, "square", **{"setting.location_id": location})
    asked = query_of(started["authorize_url"])
    assert started["authorize_url"].startswith(square + "/oauth2/authorize?")
    assert "INVENTORY_WRITE" in asked["scope"].split() and asked["session"] == "false"
    channel = _connected(merchant, "square", browse(started["authorize_url"]))
    assert channel["settings"]["merchant_id"] == SquareSimConfig().merchant_id
    refreshed = merchant.post("/v1/channels/square/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["expires_at"], refreshed.text
    assert merchant.post("/v1/channels/square/test").json()["ok"] is True


def test_woocommerce_keys_posted_to_callback(merchant: httpx.Client,
                                             platforms: Platforms) -> None:
    store = platforms.url("woocommerce")
    for sku in ("SKU-1", "SKU-2"):
        httpx.post(store + "/_sim/items", json={"sku": sku, "quantity": 40}).raise_for_status()
    started = start(merchant, "woocommerce", store_url=store)
    asked = query_of(started["authorize_url"])
    assert started["authorize_url"].startswith(store + "/wc-auth/v1/authorize?")
    assert asked["scope"] == "read_write" and asked["callback_url"] == started["callback_url"]
    landed = browse(started["authorize_url"])  # the store POSTs the keys, then redirects
    assert landed.status_code == 200, landed.text
    assert landed.json()["completed"] is True and landed.json()["channel"] == "woocommerce"
    assert merchant.post("/v1/channels/woocommerce/test").json()["ok"] is True
    preview = merchant.get("/v1/channels/woocommerce/preview").json()
    assert {c["sku"]: c["first_push_sets"] for c in preview["would_change"]} == {
        "SKU-1": 7, "SKU-2": 3}
    stock = lambda: httpx.get(store + "/_sim/state").json()["quantities"]  # noqa: E731
    assert stock()["SKU-1"] == 40
    assert merchant.post("/v1/channels/woocommerce/confirm").json()["confirmed"] is True
    eventually(lambda: stock() == {"SKU-1": 7, "SKU-2": 3}, what="the confirmed push")


def test_woocommerce_forged_or_replayed_callback(merchant: httpx.Client,
                                                 platforms: Platforms) -> None:
    store = platforms.url("woocommerce")
    keys = {"key_id": 1, "consumer_key": "ck_x", "consumer_secret": "cs_x",
            "key_permissions": "read_write"}
    callback = merchant.base_url.join("/v1/connect/woocommerce/callback")
    forged = httpx.post(callback, json={**keys, "user_id": "not-a-state"})
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_state"
    assert channels(merchant) == []
    state = query_of(start(merchant, "woocommerce", store_url=store)["authorize_url"])[
        "user_id"]
    wrong_keys = httpx.post(callback, json={**keys, "user_id": state})
    assert wrong_keys.status_code == 422, wrong_keys.text  # the connection test refused
    assert wrong_keys.json()["error"] == "credentials_refused"
    replay = httpx.post(callback, json={**keys, "user_id": state})
    assert replay.status_code == 400 and replay.json()["details"]["reason"] == "replayed"
    assert channels(merchant) == []
