"""The content sync routes: settings per channel (PATCH merges, bad input is 4xx and changes
nothing), overrides per SKU, content state in GET /v1/channels/{code}/skus."""

from __future__ import annotations

import httpx

from tests.conftest import seed


def _channel(client: httpx.Client) -> None:
    seed(client, {"SOCK-1": {"WH": 1}})
    answer = client.post("/v1/channels", params={"verify": "false"}, json={
        "code": "shop", "kind": "shopify", "name": "shop", "locations": ["WH"],
        "settings": {"shop_url": "http://127.0.0.1:9", "location_id": "1"},
        "credentials": {"access_token": "x"}})
    assert answer.status_code == 201, answer.text


def test_settings_are_merged_and_bad_input_changes_nothing(client: httpx.Client) -> None:
    _channel(client)
    first = client.get("/v1/channels/shop/content").json()
    assert first["types"] == {} and "title" in first["fields"]
    answer = client.patch("/v1/channels/shop/content", json={"types": {
        "title": {"enabled": True, "direction": "both"},
        "price": {"enabled": True, "schedule": "*/15 * * * *"}}})
    assert answer.status_code == 200, answer.text
    answer = client.patch("/v1/channels/shop/content",
                          json={"types": {"title": {"direction": "in"}}})
    assert answer.json()["types"]["title"] == {"enabled": True, "direction": "in",
                                               "schedule": "realtime"}
    for bad in ({"types": {"price": {"schedule": "hourly"}}},
                {"types": {"colour": {"enabled": True}}},
                {"types": {"title": {"direction": "sideways"}}}, {"nope": 1}):
        refused = client.patch("/v1/channels/shop/content", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert set(refused.json()) == {"error", "message", "details"}
    kept = client.get("/v1/channels/shop/content").json()["types"]
    assert kept["price"]["schedule"] == "*/15 * * * *" and kept["title"]["direction"] == "in"
    assert client.get("/v1/channels/nope/content").status_code == 404


def test_overrides_and_content_state_per_sku(client: httpx.Client) -> None:
    _channel(client)
    client.patch("/v1/channels/shop/content", json={"types": {"title": {"enabled": True}}})
    answer = client.put("/v1/channels/shop/content/SOCK-1",
                        json={"title": "Sock (shop)", "source": "user:ann"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["override"]["source"] == "user:ann"
    assert client.put("/v1/channels/shop/content/NOPE", json={"title": "x"}).status_code == 404
    assert client.put("/v1/channels/shop/content/SOCK-1",
                      json={"price": "1"}).status_code == 422
    got = client.get("/v1/channels/shop/content/SOCK-1").json()
    assert got["override"]["title"] == "Sock (shop)"
