"""Review and publish over HTTP: drafts per channel for one SKU and a list, edit (refused
over the limit), approve (the title, and on eBay the aspects, become the item's channel
content and reach the simulators through content sync), reject, the tenant's word rules,
and a whole-catalog job with progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import seed
from tests.content.conftest import sync_content, wait_for
from tests.e2e.channel_stacks import Ebay, Platform, Shopify

SKU = "VINT-LEATHER-JKT-L"
ITEM = {"title": "Vintage leather jacket", "brand": "Schott", "gender": "male",
        "material": "Leather", "garment_type": "biker jacket", "size": "L",
        "colour": "black", "attributes": {"Fit": "regular", "Style": "amazing vintage",
                                          "Pattern": "solid", "Sleeve Length": "Long Sleeve"}}


@pytest.fixture
def stores(client: httpx.Client, server) -> Iterator[dict[str, Platform]]:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        shop, bay = Shopify(stack), Ebay(stack)
        seed(client, {SKU: {"WH": 3}, "TEE-1": {"WH": 1}})
        assert client.put(f"/v1/items/{SKU}", json=ITEM).status_code == 200
        assert client.put("/v1/items/TEE-1", json={
            "brand": "Acme", "gender": "women", "material": "cotton", "garment_type": "tee",
            "colour": "grey", "size": "M"}).status_code == 200
        for p in (shop, bay):
            p.add(SKU)
            p.connect(client, server.url, ["WH"])
            sync_content(client, p.code)
        yield {"shopify": shop, "ebay": bay}


def _drafts(client: httpx.Client, **body: object) -> dict[str, dict]:
    answer = client.post("/v1/listings/drafts", json=body)
    assert answer.status_code == 201, answer.text
    return {d["channel"]: d for d in answer.json()["drafts"]}


def test_drafts_are_reviewed_and_approved_titles_reach_the_channels(
        client: httpx.Client, stores: dict[str, Platform]) -> None:
    drafts = _drafts(client, sku=SKU)
    bay, shop = drafts["ebay-us"], drafts["shop"]
    title = "Schott Men's Leather Biker Jacket Size L Black Regular Fit Vintage Solid"
    assert bay["title"] == shop["title"] == title
    assert bay["limit"] == 80 and shop["limit"] == 255 and bay["length"] == len(title)
    assert bay["outcome"] == "rules" and bay["status"] == "pending"
    assert set(bay["components"]) == {"brand", "gender", "material", "garment_type", "size",
                                      "colour", "fit", "style", "pattern"}
    assert any("amazing" in w for w in bay["warnings"])  # the fluff word taken out
    assert bay["aspects"]["Brand"] == ["Schott"] and bay["aspects"]["Department"] == ["Men"]
    assert bay["aspects"]["Sleeve Length"] == ["Long Sleeve"]

    too_long = client.patch(f"/v1/listings/drafts/{bay['id']}", json={"title": "X " * 41})
    assert too_long.status_code == 422 and too_long.json()["details"]["limit"] == 80
    edited = client.patch(f"/v1/listings/drafts/{bay['id']}",
                          json={"title": "Schott Men's Leather Biker Jacket L Black"})
    assert edited.status_code == 200 and edited.json()["edited"] is True

    for draft in (edited.json(), shop):
        approved = client.post(f"/v1/listings/drafts/{draft['id']}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert approved.json()["publish_state"] == "published"
    override = client.get(f"/v1/channels/ebay-us/content/{SKU}").json()["override"]
    assert override["title"] == "Schott Men's Leather Biker Jacket L Black"
    assert override["aspects"]["Brand"] == ["Schott"]
    assert override["source"] == f"ai:draft-{bay['id']}"
    ebay = stores["ebay"]
    listed = wait_for(lambda: (p := ebay.admin.get("/_sim/catalog").json()["items"][SKU])
                      ["title"] == "Schott Men's Leather Biker Jacket L Black" and p)
    assert listed["aspects"]["Brand"] == ["Schott"]
    assert listed["aspects"]["Department"] == ["Men"]
    assert listed["aspects"]["Sleeve Length"] == ["Long Sleeve"]
    shopify = stores["shopify"]
    assert client.get(f"/v1/channels/shop/content/{SKU}").json()["override"]["title"] == title
    wait_for(lambda: next(p for p in shopify.admin.get("/_sim/catalog").json()["products"]
                          if p["variants"][0]["sku"] == SKU)["title"] == title)

    rejected = client.post(f"/v1/listings/drafts/{shop['id']}/reject")
    assert rejected.json()["status"] == "rejected"
    assert client.get(f"/v1/channels/shop/content/{SKU}").json()["override"]["title"] is None
    # The override is dropped, so the item's own title applies again. (Content sync does
    # not re-push a dropped override yet: the simulator keeps the AI title; reported to
    # the content-sync owner, /work/notes/ailistings-to-content.md.)

    # a regenerated draft leaves the approved one alone
    again = _drafts(client, skus=[SKU, "TEE-1"], channels=["ebay-us"])
    assert set(again) == {"ebay-us"} and len(client.get(
        "/v1/listings/drafts", params={"channel": "ebay-us"}).json()["drafts"]) == 2
    listed = client.get("/v1/listings/drafts", params={"status": "approved"}).json()
    assert [d["id"] for d in listed["drafts"]] == [bay["id"]]


def test_word_rules_are_per_tenant_and_bad_requests_change_nothing(
        client: httpx.Client, stores: dict[str, Platform]) -> None:
    assert _drafts(client, sku="TEE-1", channels=["ebay-us"])["ebay-us"]["title"] == \
        "Acme Women's Cotton T-Shirt Size M Gray"
    put = client.put("/v1/listings/settings", json={
        "preferred_terms": {"grey": "Grey", "tee": "Tee Shirt"}, "banned_words": ["size"],
        "template": "Write a title."})
    assert put.status_code == 200 and put.json()["template"] == "Write a title."
    assert _drafts(client, sku="TEE-1", channels=["ebay-us"])["ebay-us"]["title"] == \
        "Acme Women's Cotton Tee Shirt Size M Grey"
    reset = client.put("/v1/listings/settings", json={"template": ""}).json()
    assert reset["template_is_default"] and reset["template"].startswith(
        "You are an expert fashion copywriter.")
    for body, status, code in (({}, 422, "invalid_input"),
                               ({"sku": "NOPE"}, 404, "unknown_sku"),
                               ({"sku": "TEE-1", "channels": ["nope"]}, 404, "not_found"),
                               ({"sku": "TEE-1", "all": True}, 422, "invalid_input")):
        answer = client.post("/v1/listings/drafts", json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text


def test_the_whole_catalog_is_a_job_with_progress(client: httpx.Client,
                                                  stores: dict[str, Platform]) -> None:
    answer = client.post("/v1/listings/drafts", json={"all": True})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "running" and job["progress"]["items_total"] == 2
    done = wait_for(lambda: (j := client.get(f"/v1/listings/jobs/{job['id']}").json())
                    ["status"] == "done" and j)
    assert done["progress"] == {"items_total": 2, "items_done": 2, "percent": 100.0}
    assert done["outcomes"] == {"rules": 4}
    assert len(client.get("/v1/listings/drafts").json()["drafts"]) == 4
