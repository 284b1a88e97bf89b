"""Shopify's authorization code grant end to end, and every forged callback refused with
a clear 4xx and nothing created (SQLite and PostgreSQL: the state nonces are stored)."""

from __future__ import annotations

from typing import Any

import httpx

from stocksync.connect.shopify import query_hmac
from stocksync.simulators.shopify_oauth import CLIENT_SECRET
from tests.connect.conftest import (
    SQLITE_ONLY,
    Platforms,
    browse,
    channels,
    configure,
    eventually,
    platform_redirect,
    query_of,
    replace_query,
    start,
)

SHOP = "stocksync-sim.myshopify.com"


def _location(platforms: Platforms) -> str:
    state = httpx.get(platforms.servers["shopify"].url + "/_sim/state").json()
    return str(state["locations"][0]["id"])


def _start(merchant: httpx.Client, platforms: Platforms, **extra: Any) -> dict[str, Any]:
    configure(merchant.app_svc, platforms, "shopify")  # type: ignore[attr-defined]
    return start(merchant, "shopify", shop=SHOP,
                 **{"setting.location_id": _location(platforms)}, **extra)


def _resigned(url: str, **changes: str) -> str:
    """A callback URL changed and signed again with the app's secret (only Shopify and
    the app know it): what gets past the HMAC check to reach the next one."""
    params = {**query_of(url), **changes}
    params.pop("hmac")
    return replace_query(url, **changes, hmac=query_hmac(params, CLIENT_SECRET))


def test_install_url_callback_token_preview_confirm_push(merchant: httpx.Client,
                                                         platforms: Platforms) -> None:
    shop = configure(merchant.app_svc, platforms, "shopify")  # type: ignore[attr-defined]
    for sku in ("SKU-1", "SKU-2"):
        r = httpx.post(shop + "/_sim/products", json={
            "sku": sku, "quantities": {_location(platforms): 50}})
        assert r.status_code == 201, r.text
    started = _start(merchant, platforms)
    install = query_of(started["authorize_url"])
    assert started["authorize_url"].startswith(shop + "/admin/oauth/authorize?")
    assert install["client_id"] and install["redirect_uri"] == started["callback_url"]
    assert "write_inventory" in install["scope"].split(",") and len(install["state"]) >= 32

    done = browse(started["authorize_url"])
    assert done.status_code == 201, done.text
    assert done.json()["state"] == "preview"
    channel = merchant.get("/v1/channels/shopify").json()
    assert channel["has_credentials"] and channel["settings"]["shop_url"] == shop
    assert channel["enabled"] is False  # in preview: nothing runs
    listed = {c["code"]: c for c in merchant.get("/v1/channels").json()}
    assert listed["shopify"]["status"]["state"] == "preview"

    assert merchant.post("/v1/channels/shopify/test").json()["ok"] is True
    preview = merchant.get("/v1/channels/shopify/preview").json()
    assert preview["state"] == "preview" and preview["error"] is None, preview
    assert {c["sku"]: (c["store_shows"], c["first_push_sets"])
            for c in preview["would_change"]} == {"SKU-1": (50, 7), "SKU-2": (50, 3)}
    available = lambda sku: httpx.get(shop + "/_sim/state").json()[  # noqa: E731
        "available"][sku][_location(platforms)]
    assert available("SKU-1") == 50  # the preview wrote nothing

    confirmed = merchant.post("/v1/channels/shopify/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["confirmed"] is True
    eventually(lambda: available("SKU-1") == 7 and available("SKU-2") == 3,
               what="the first push after confirmation")
    assert merchant.get("/v1/channels/shopify").json()["enabled"] is True
    assert merchant.get("/v1/channels/shopify").json()["status"]["state"] != "preview"


@SQLITE_ONLY
def test_forged_callbacks_refused_and_nothing_created(merchant: httpx.Client,
                                                      platforms: Platforms) -> None:
    started = _start(merchant, platforms)
    callback = platform_redirect(started["authorize_url"])
    forged_state = httpx.get(_resigned(callback, state="forged-state-" + "x" * 30))
    assert forged_state.status_code == 400, forged_state.text
    assert forged_state.json()["error"] == "invalid_state"
    forged_hmac = httpx.get(replace_query(callback, hmac="0" * 64))
    assert forged_hmac.status_code == 400 and forged_hmac.json()["error"] == \
        "invalid_signature", forged_hmac.text
    tampered = httpx.get(replace_query(callback, code="another-code"))  # hmac kept
    assert tampered.json()["error"] == "invalid_signature"
    wrong_host = httpx.get(_resigned(callback, shop="evil.example.com"))
    assert wrong_host.status_code == 400 and wrong_host.json()["details"]["field"] == "shop"
    other_shop = httpx.get(_resigned(callback, shop="other-store.myshopify.com"))
    assert other_shop.status_code == 400 and "started for" in other_shop.json()["message"]
    assert channels(merchant) == []
    refused = merchant.get("/v1/connect/shopify", params={
        "code": "x", "location": "main", "shop": "evil.example.com",
        "setting.location_id": "1"})
    assert refused.status_code == 422 and refused.json()["details"]["field"] == "shop"
    # The shop mismatch used the state up (it passed the signature): a new flow connects.
    again = platform_redirect(_start(merchant, platforms)["authorize_url"])
    assert httpx.get(again).status_code == 201
    assert channels(merchant) == ["shopify"]


def test_replayed_and_expired_states_refused(merchant: httpx.Client, platforms: Platforms,
                                             svc: Any) -> None:
    callback = platform_redirect(_start(merchant, platforms)["authorize_url"])
    assert httpx.get(callback).status_code == 201
    merchant.delete("/v1/channels/shopify")
    again = httpx.get(callback)
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_state" and again.json()["details"]["reason"] == \
        "replayed"
    svc.settings.connect_minutes = 0.0001  # 6 ms
    late = httpx.get(platform_redirect(_start(merchant, platforms)["authorize_url"]))
    assert late.status_code == 400 and late.json()["details"]["reason"] == "expired", late.text
    assert channels(merchant) == []
