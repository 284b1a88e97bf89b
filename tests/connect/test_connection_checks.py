"""The connection test before a channel is accepted and on demand, and a channel created
by the API in preview: nothing pushed until confirmed (SQLite and PostgreSQL: the
supervisor's filter reads the preview table)."""

from __future__ import annotations

import time

import httpx

from tests.connect.conftest import SQLITE_ONLY, Platforms, channels, eventually


def _shopify_channel(platforms: Platforms, token: str, **extra: object) -> dict[str, object]:
    shop = platforms.url("shopify")
    location = str(httpx.get(shop + "/_sim/state").json()["locations"][0]["id"])
    return {"code": "shop", "kind": "shopify", "name": "Shop", "locations": ["main"],
            "settings": {"shop_url": shop, "location_id": location},
            "credentials": {"access_token": token}, **extra}


@SQLITE_ONLY
def test_wrong_token_refused_at_creation_and_by_the_test(merchant: httpx.Client,
                                                         platforms: Platforms) -> None:
    wrong = _shopify_channel(platforms, "shpat_wrong")
    refused = merchant.post("/v1/channels", json=wrong)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "credentials_refused"
    assert "Invalid API key or access token" in str(refused.json()["details"]["answer"])
    assert channels(merchant) == []

    stored = merchant.post("/v1/channels?verify=false", json=wrong)  # stored unchecked
    assert stored.status_code == 201, stored.text
    test = merchant.post("/v1/channels/shop/test")
    assert test.status_code == 200
    answer = test.json()
    assert answer["ok"] is False and answer["error"] == "credentials_refused"
    assert "shop { name }" in answer["checked"]
    assert "Invalid API key" in str(answer["platform_answer"])

    till = merchant.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "Till", "locations": ["main"],
        "credentials": {"webhook_secret": "s" * 32}})
    assert till.status_code == 201, till.text
    checked = merchant.post("/v1/channels/till/test").json()
    assert checked["ok"] is True and checked["checked"].startswith("nothing")
    assert merchant.post("/v1/channels/nope/test").status_code == 404
    assert merchant.get("/v1/channels/nope/preview").status_code == 404


def test_api_channel_in_preview_pushes_only_after_confirm(merchant: httpx.Client,
                                                          platforms: Platforms) -> None:
    shop = platforms.url("shopify")
    body = _shopify_channel(platforms, "shpat_stocksync_simulator", initial_sync="preview")
    location = body["settings"]["location_id"]  # type: ignore[index]
    for sku in ("SKU-1", "SKU-2"):
        httpx.post(shop + "/_sim/products", json={
            "sku": sku, "quantities": {location: 20}}).raise_for_status()
    created = merchant.post("/v1/channels", json=body)
    assert created.status_code == 201, created.text
    available = lambda: httpx.get(shop + "/_sim/state").json()["available"]  # noqa: E731
    time.sleep(1.5)  # over a supervisor round (1 s): a worker would have pushed by now
    assert available()["SKU-1"][location] == 20
    preview = merchant.get("/v1/channels/shop/preview").json()
    assert preview["state"] == "preview" and len(preview["would_change"]) == 2, preview
    assert merchant.post("/v1/channels/shop/confirm").json()["confirmed"] is True
    eventually(lambda: available()["SKU-1"][location] == 7
               and available()["SKU-2"][location] == 3, what="the push after confirm")
    assert merchant.get("/v1/channels/shop").json()["enabled"] is True
    again = merchant.post("/v1/channels/shop/confirm").json()
    assert again == {"channel": "shop", "state": "pushing", "confirmed": False}
