"""The listings page in the browser: drafts written for items on a real eBay channel (the
eBay simulator), an over-limit edit refused with its reason, an approved title becoming
the item's channel content, a rejected draft; the whole catalog as a job with its progress
bar and approve-all (tenant B, whose drafts tenant A cannot touch); a model's outcomes and
what the item's images suggest, applied to the item only when asked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from stocksync.config import Settings
from tests.browser.conftest import TIMEOUT_MS, Stack, csrf_of, sign_in
from tests.browser.listings_data import (
    COAT,
    JACKET,
    TEE,
    add_channel,
    ebay_and_images,
    put_items,
)
from tests.e2e.channel_stacks import Ebay
from tests.listings.model_server import ModelServer

CHANNEL = "lst-ebay"
JKT, TSHIRT, WOOL = "LST-JKT-1", "LST-TEE-2", "LST-COAT-3"


@pytest.fixture(scope="module")
def ebay(stack: Stack) -> Iterator[tuple[Ebay, ModelServer]]:
    with ebay_and_images() as (sim, model), stack.api(stack.a) as api:
        coat = {**COAT, "images": [{"url": f"{model.url}/img/{n}"}
                                   for n in ("main.png", "back.png", "gone.png")]}
        put_items(api, {JKT: JACKET, TSHIRT: TEE, WOOL: coat})
        add_channel(api, sim, CHANNEL, [JKT, TSHIRT, WOOL])
        yield sim, model
        # The simulator stops with this module: its channels go too (later tests would
        # otherwise see a failing channel on the overview).
        for tenant in (stack.a, stack.b):
            with stack.api(tenant) as owner:
                assert owner.delete(f"/v1/channels/{CHANNEL}").status_code in (200, 204, 404)


def _row(page: Page, sku: str, channel: str = CHANNEL):  # type: ignore[no-untyped-def]
    return page.locator(f'tr[data-sku="{sku}"][data-channel="{channel}"]')


def _write_drafts(page: Page, skus: str) -> None:
    page.get_by_label(re.compile("^SKUs")).fill(skus)
    page.get_by_role("checkbox", name=re.compile(f"^{CHANNEL} ")).check()
    page.get_by_role("button", name="Write drafts").click()


def test_drafts_are_written_edited_approved_and_rejected(
        page_a: Page, stack: Stack, ebay: tuple[Ebay, ModelServer]) -> None:
    page_a.goto("/overview")
    page_a.get_by_role("link", name="Listings").click()
    expect(page_a.get_by_role("heading", name="Listings", exact=True)).to_be_visible()
    _write_drafts(page_a, f"{JKT}\n{TSHIRT}")
    expect(page_a.get_by_test_id("drafts-written")).to_contain_text("2 drafts written")
    jacket, tee = _row(page_a, JKT), _row(page_a, TSHIRT)  # the table reloaded itself
    title = "Schott Men's Leather Biker Jacket Size L Black Regular Fit Vintage Solid"
    expect(jacket.get_by_label(f"Title of {JKT} on {CHANNEL}")).to_have_value(title)
    expect(jacket.get_by_test_id("length")).to_have_text(f"{len(title)} / 80")
    expect(jacket.get_by_test_id("outcome")).to_have_text("rules")
    expect(jacket).to_contain_text("brand, gender, material, garment type")
    expect(jacket).to_contain_text("amazing")  # the fluff word taken out, as a warning
    expect(tee.get_by_label(f"Title of {TSHIRT} on {CHANNEL}")).to_have_value(
        "Acme Women's Cotton T-Shirt Size M Gray")

    field = jacket.get_by_label(f"Title of {JKT} on {CHANNEL}")
    field.fill("Schott " + "Leather " * 12)  # 103 characters: over eBay's 80
    field.press("Enter")  # the keyboard submits the inline form
    expect(jacket.get_by_role("alert")).to_contain_text(f"{CHANNEL} takes 80")
    expect(field).to_have_attribute("aria-invalid", "true")
    with stack.api(stack.a) as api:
        stored = api.get("/v1/listings/drafts", params={"sku": JKT}).json()["drafts"][0]
        assert stored["title"] == title and not stored["edited"]  # refused: nothing changed

    short = "Schott Men's Leather Biker Jacket L Black"
    field.fill(short)
    jacket.get_by_role("button", name="Save title").click()
    expect(jacket.get_by_role("status")).to_have_text("title saved")
    expect(jacket.get_by_test_id("length")).to_have_text(f"{len(short)} / 80")
    jacket.get_by_role("button", name="Approve").click()
    expect(jacket.get_by_test_id("status")).to_have_text("approved")
    expect(jacket).to_contain_text("published")
    tee.get_by_role("button", name="Reject").click()
    expect(tee.get_by_test_id("status")).to_have_text("rejected")
    with stack.api(stack.a) as api:
        override = api.get(f"/v1/channels/{CHANNEL}/content/{JKT}").json()["override"]
        assert override["title"] == short and override["aspects"]["Brand"] == ["Schott"]
        assert override["source"] == f"ai:draft-{stored['id']}"
        drafts = {d["sku"]: d for d in api.get(
            "/v1/listings/drafts", params={"channel": CHANNEL}).json()["drafts"]}
        assert drafts[TSHIRT]["status"] == "rejected"
        assert drafts[JKT]["decided_by"] == f"key:{stack.a.key[:10]}"
        tee_content = api.get(f"/v1/channels/{CHANNEL}/content/{TSHIRT}").json()
        assert (tee_content.get("override") or {}).get("title") is None


def test_the_whole_catalog_is_a_job_then_approved_at_once_and_only_by_its_tenant(
        browser: Browser, page_a: Page, stack: Stack,
        ebay: tuple[Ebay, ModelServer]) -> None:
    sim, _ = ebay
    skus = ["LSTB-1", "LSTB-2", "LSTB-3"]
    with stack.api(stack.b) as api:
        put_items(api, {s: {**TEE, "size": size} for s, size in zip(skus, "SML", strict=True)})
        add_channel(api, sim, CHANNEL, skus)
        total = len(api.get("/v1/items", params={"limit": 500}).json())
    ctx = browser.new_context(base_url=stack.url)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page_b = ctx.new_page()
        sign_in(page_b, stack.b)
        page_b.goto("/listings")
        page_b.get_by_role("checkbox", name=re.compile("^The whole catalog")).check()
        page_b.get_by_role("checkbox", name=re.compile(f"^{CHANNEL} ")).check()
        page_b.get_by_role("button", name="Write drafts").click()
        expect(page_b.get_by_test_id("job-status")).to_have_text("done")
        expect(page_b.locator("progress")).to_have_attribute("value", "100.0")
        expect(page_b.get_by_test_id("listing-job")).to_contain_text(
            f"{total} of {total} items")
        page_b.get_by_label("Channel", exact=True).select_option(CHANNEL)
        page_b.get_by_role("button", name="Filter").click()
        expect(page_b.get_by_test_id("approve-all")).to_have_text(
            f"Approve all {total} pending of this filter")
        page_b.get_by_test_id("approve-all").click()
        expect(page_b.get_by_test_id("approved-all")).to_contain_text(f"{total} drafts approved")
        expect(page_b.get_by_text(f"No pending draft on {CHANNEL}.")).to_be_visible()
    finally:
        ctx.close()
    with stack.api(stack.b) as api:
        drafts = api.get("/v1/listings/drafts", params={"channel": CHANNEL}).json()["drafts"]
        assert len(drafts) == total and {d["status"] for d in drafts} == {"approved"}
        assert api.get(f"/v1/channels/{CHANNEL}/content/LSTB-2").json()["override"][
            "title"] == "Acme Women's Cotton T-Shirt Size M Gray"
        draft_id = drafts[0]["id"]
        jobs = api.post("/v1/listings/drafts", json={"all": True, "channels": [CHANNEL]})
        job_id = jobs.json()["id"]
    # Tenant A, with its own valid token, guessing B's ids: 404, and B's drafts unchanged.
    page_a.goto("/listings")
    headers = {"X-CSRF-Token": csrf_of(page_a), "HX-Request": "true"}
    req = page_a.request
    for path in (f"/listings/drafts/{draft_id}/reject", f"/listings/drafts/{draft_id}/edit"):
        assert req.post(path, headers=headers, form={"title": "mine"}).status == 404, path
    assert req.get(f"/listings/jobs/{job_id}").status == 404
    assert req.get("/listings/items/LSTB-1").status == 404
    rows = req.get("/listings/rows?status=any&sku=LSTB-1").text()
    assert draft_id not in rows and "No draft of LSTB-1." in rows  # the filter, echoed
    assert req.post(f"/listings/drafts/{draft_id}/approve").status == 403  # no CSRF token
    with stack.api(stack.b) as api:
        assert api.get(f"/v1/listings/drafts/{draft_id}").json()["status"] == "approved"


def test_model_outcomes_and_image_suggestions_applied_only_when_asked(
        page_a: Page, stack: Stack, ebay: tuple[Ebay, ModelServer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, model = ebay
    settings: Settings = stack.svc.settings
    # The running server's service, with the scripted local model as its LLM and vision
    # model (restored after the test; the service keeps no other copy of these settings).
    monkeypatch.setattr(stack.svc, "settings", settings.model_copy(update={
        "listing_llm_base_url": model.base_url, "listing_llm_model": "test-model",
        "listing_vision_model": "test-vision", "listing_llm_timeout_seconds": 2.0}))
    monkeypatch.delattr(stack.svc, "_listing_model", raising=False)
    page_a.goto(f"/listings/items/{WOOL}")
    expect(page_a.get_by_label(re.compile("^SKUs"))).to_have_value(WOOL)
    page_a.get_by_role("checkbox", name=re.compile(f"^{CHANNEL} ")).check()
    page_a.get_by_role("button", name="Write drafts").click()
    coat = _row(page_a, WOOL)
    expect(coat.get_by_test_id("outcome")).to_have_text("LLM repaired")
    expect(coat).to_contain_text("banned word")  # the reason kept
    expect(coat.get_by_text("The model's answer")).to_be_visible()

    suggestions = page_a.locator("#suggestions")
    suggestions.get_by_role("button", name=re.compile("^Read the images")).click()
    expect(suggestions.get_by_role("status")).to_have_text("3 image(s) read")
    colour = suggestions.locator('tr[data-attribute="colour"]')
    expect(colour).to_contain_text("Navy")
    expect(colour).to_contain_text("Camel")  # the merchant's value beside it
    expect(suggestions.locator('tr[data-attribute="material"]')).to_contain_text("82.0%")
    checks = suggestions.get_by_role("table").filter(has_text="White background")
    expect(checks.locator("tr").filter(has_text="main.png")).to_contain_text("passes")
    expect(checks.locator("tr").filter(has_text="back.png")).to_contain_text("under 500")
    expect(checks.locator("tr").filter(has_text="gone.png")).to_contain_text("answered 404")
    with stack.api(stack.a) as api:
        item = api.get(f"/v1/items/{WOOL}").json()
        assert (item["colour"], item["material"]) == ("Camel", "Wool")  # never by itself

    suggestions.get_by_role("button", name="Apply material Denim").click()
    expect(suggestions.get_by_role("status")).to_have_text("material set to Denim on the item")
    expect(suggestions.get_by_test_id("fact-material")).to_have_text("Denim")
    suggestions.get_by_role("button", name="Apply sleeve length Long Sleeve").click()
    expect(suggestions.get_by_role("status")).to_contain_text("sleeve length set to")
    with stack.api(stack.a) as api:
        item = api.get(f"/v1/items/{WOOL}").json()
    assert (item["colour"], item["material"]) == ("Camel", "Denim")
    assert item["attributes"]["Sleeve Length"] == "Long Sleeve"
    assert item["images"] and item["brand"] == "Fluffyco"  # the rest of the item kept
