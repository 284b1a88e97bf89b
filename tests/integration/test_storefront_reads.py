"""The read-only storefront: publishable keys, ETag/304, Cache-Control, schema.org JSON-LD,
per-key rate limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import jsonschema
import pytest

from stocksync.app.service import Stocksync
from tests.conftest import LiveServer, Tenant, new_tenant, seed, settle

# The schema.org Offer shape agents read (https://schema.org/Offer, ItemAvailability).
OFFER = {
    "type": "object",
    "required": ["@type", "sku", "availability", "inventoryLevel", "itemOffered"],
    "properties": {
        "@type": {"const": "Offer"},
        "sku": {"type": "string"},
        "availability": {"enum": ["https://schema.org/InStock",
                                  "https://schema.org/LimitedAvailability",
                                  "https://schema.org/OutOfStock"]},
        "inventoryLevel": {"type": "object", "required": ["@type", "value"], "properties": {
            "@type": {"const": "QuantitativeValue"}, "value": {"type": "integer"}}},
        "itemOffered": {"type": "object", "required": ["@type", "sku"],
                        "properties": {"@type": {"const": "Product"}}},
        "price": {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
        "priceCurrency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}
SINGLE = {"allOf": [{"required": ["@context"],
                     "properties": {"@context": {"const": "https://schema.org"}}}, OFFER]}
GRAPH = {"type": "object", "required": ["@context", "@graph"],
         "properties": {"@context": {"const": "https://schema.org"},
                        "@graph": {"type": "array", "items": OFFER}}}


def _publishable(client: httpx.Client) -> str:
    r = client.post("/v1/publishable-keys", json={"label": "shop page"})
    assert r.status_code == 201, r.text
    key: str = r.json()["publishable_key"]
    assert key.startswith("pk_")
    return key


@pytest.fixture
def shop(client: httpx.Client, svc: Stocksync) -> httpx.Client:
    seed(client, {"TEE-1": {"WH": 40}, "MUG-1": {"WH": 3}, "CAP-1": {}})
    r = client.put("/v1/items/TEE-1", json={"title": "Tee", "price": "1500.00",
                                            "currency": "INR"})
    assert r.status_code == 200, r.text
    settle(svc)
    return client


def test_a_publishable_key_reads_availability_with_schema_org_states(
        shop: httpx.Client) -> None:
    pk = _publishable(shop)
    r = httpx.get(f"{shop.base_url}/storefront/v1/availability",
                  params=[("sku", "TEE-1"), ("sku", "MUG-1"), ("sku", "CAP-1"),
                          ("sku", "NOPE")], headers={"Authorization": f"Bearer {pk}"})
    assert r.status_code == 200, r.text
    body = r.json()
    states = {i["sku"]: (i["available"], i["availability"]) for i in body["items"]}
    assert states == {"TEE-1": (40, "InStock"), "MUG-1": (3, "LimitedAvailability"),
                      "CAP-1": (0, "OutOfStock")}
    assert body["unknown"] == ["NOPE"]
    assert body["as_of_sequence"] >= 1 and body["as_of"] and body["fresh"] is True
    assert r.headers["Cache-Control"] == "public, max-age=30"


def test_the_etag_gives_304_until_stock_changes(shop: httpx.Client, svc: Stocksync) -> None:
    pk = _publishable(shop)
    url = f"{shop.base_url}/storefront/v1/availability?sku=TEE-1&key={pk}"
    first = httpx.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith(f'"{first.json()["as_of_sequence"]}-')
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    r = shop.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                         "quantity": 1})
    assert r.status_code == 201, r.text
    settle(svc)
    changed = httpx.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["items"][0]["available"] == 39
    assert changed.headers["ETag"] != etag


def test_offers_are_schema_org_json_ld(shop: httpx.Client) -> None:
    pk = _publishable(shop)
    headers = {"Authorization": f"Bearer {pk}"}
    one = httpx.get(f"{shop.base_url}/storefront/v1/offers?sku=TEE-1", headers=headers)
    assert one.headers["content-type"].startswith("application/ld+json")
    jsonschema.validate(one.json(), SINGLE)
    assert (one.json()["price"], one.json()["priceCurrency"]) == ("1500.00", "INR")
    many = httpx.get(f"{shop.base_url}/storefront/v1/offers",
                     params=[("sku", "TEE-1"), ("sku", "CAP-1")], headers=headers)
    jsonschema.validate(many.json(), GRAPH)
    assert [o["availability"] for o in many.json()["@graph"]] == [
        "https://schema.org/InStock", "https://schema.org/OutOfStock"]


def test_a_publishable_key_reads_availability_and_nothing_else(shop: httpx.Client) -> None:
    pk = _publishable(shop)
    headers = {"Authorization": f"Bearer {pk}"}
    for method, path in (("GET", "/v1/stock/TEE-1"), ("GET", "/v1/items"),
                         ("POST", "/v1/movements"), ("POST", "/v1/reservations"),
                         ("GET", "/v1/publishable-keys"), ("POST", "/mcp")):
        r = httpx.request(method, f"{shop.base_url}{path}", headers=headers,
                          json={})
        assert r.status_code == 401, (path, r.status_code, r.text)
    secret = {"Authorization": shop.headers["Authorization"]}
    r = httpx.get(f"{shop.base_url}/storefront/v1/availability?sku=TEE-1", headers=secret)
    assert r.status_code == 401 and "publishable" in r.json()["message"]


def test_a_revoked_key_is_refused_at_once_and_tenants_stay_apart(
        shop: httpx.Client, svc: Stocksync) -> None:
    pk = _publishable(shop)
    other: Tenant = new_tenant(svc, "other shop")
    with httpx.Client(base_url=str(shop.base_url), headers=other.headers) as theirs:
        their_pk = _publishable(theirs)
        seed(theirs, {"TEE-1": {"WH": 7}})
    settle(svc)
    url = f"{shop.base_url}/storefront/v1/availability?sku=TEE-1"
    mine = httpx.get(url, headers={"Authorization": f"Bearer {pk}"}).json()
    theirs_seen = httpx.get(url, headers={"Authorization": f"Bearer {their_pk}"}).json()
    assert (mine["items"][0]["available"], theirs_seen["items"][0]["available"]) == (40, 7)
    prefix = pk[:10]
    assert [k["prefix"] for k in shop.get("/v1/publishable-keys").json()] == [prefix]
    r = shop.post(f"/v1/publishable-keys/{prefix}/revoke")
    assert r.status_code == 200 and r.json()["active"] is False
    refused = httpx.get(url, headers={"Authorization": f"Bearer {pk}"})
    assert refused.status_code == 401
    assert shop.post("/v1/publishable-keys/pk_nothere/revoke").status_code == 404


@pytest.fixture
def limited(svc: Stocksync, tenant: Tenant) -> Iterator[httpx.Client]:
    svc.settings = svc.settings.model_copy(update={"storefront_burst": 3,
                                                   "storefront_rate_per_second": 0.01})
    with LiveServer(svc) as live, httpx.Client(base_url=live.url, headers=tenant.headers,
                                                timeout=30) as c:
        yield c


def test_each_key_is_rate_limited_with_retry_after(limited: httpx.Client) -> None:
    seed(limited, {"TEE-1": {"WH": 1}})
    first, second = _publishable(limited), _publishable(limited)
    url = f"{limited.base_url}/storefront/v1/availability?sku=TEE-1"
    answers = [httpx.get(url, headers={"Authorization": f"Bearer {first}"}).status_code
               for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    r = httpx.get(url, headers={"Authorization": f"Bearer {first}"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "rate_limited"
    ok = httpx.get(url, headers={"Authorization": f"Bearer {second}"})
    assert ok.status_code == 200  # the other key has its own bucket


def test_publishable_keys_are_made_listed_and_revoked_on_the_command_line(
        shop: httpx.Client, svc: Stocksync, tenant: Tenant) -> None:
    from typer.testing import CliRunner

    from stocksync.cli.main import app

    env = {"STOCKSYNC_DATABASE_URL": svc.settings.database_url,
           "STOCKSYNC_DATABASE_SCHEMA": svc.settings.database_schema or "",
           "STOCKSYNC_SECRET_KEY": svc.settings.secret_key or ""}
    runner = CliRunner()
    made = runner.invoke(app, ["storefront-keys", "create", "--tenant", tenant.id,
                               "--label", "theme"], env=env)
    assert made.exit_code == 0, made.output
    pk = made.stdout.strip().splitlines()[-1]
    assert pk.startswith("pk_")
    url = f"{shop.base_url}/storefront/v1/availability?sku=TEE-1"
    listed = runner.invoke(app, ["storefront-keys", "list", "--tenant", tenant.id], env=env)
    assert pk[:10] in listed.stdout and "theme" in listed.stdout
    revoked = runner.invoke(app, ["storefront-keys", "revoke", pk[:10], "--tenant",
                                  tenant.id], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert httpx.get(url, headers={"Authorization": f"Bearer {pk}"}).status_code == 401
    unknown = runner.invoke(app, ["storefront-keys", "revoke", "pk_nothere", "--tenant",
                                  tenant.id], env=env)
    assert unknown.exit_code == 2 and "PREFIX" in unknown.output
