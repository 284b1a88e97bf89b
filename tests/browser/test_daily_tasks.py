"""The merchant's daily tasks end to end in the browser: an import with a bad row and a
mapping to fix, a reconcile with a planted difference, and replaying a dead letter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from stocksync.ingest.pos import pos_signature
from tests.browser.conftest import SHOPIFY_TOKEN, Stack, eventually, seed
from tests.integration.test_pos_intake import SECRET as TILL_SECRET
from tests.integration.test_pos_intake import body as till_sale


def test_import_a_csv_with_one_bad_row_fix_the_mapping_and_apply(
        page_a: Page, stack: Stack, tmp_path: Path) -> None:
    with stack.api(stack.a) as api:
        assert api.put("/v1/locations/IMP", json={"name": "Import shelf"}).status_code \
            in (200, 201)
    csv = tmp_path / "stock.csv"
    # "Units" is not a name the detector knows: the quantities need the mapping fixed.
    csv.write_text("SKU,Name,Price,Units\nIMP-1,Tent,120.00,4\nIMP-2,Stove,abc,2\n"
                   "IMP-3,Lamp,15.50,9\n")
    page_a.goto("/imports")
    page_a.get_by_label("File (CSV or XLSX)").set_input_files(str(csv))
    page_a.get_by_role("button", name="Upload and preview").click()
    expect(page_a.get_by_test_id("import-status")).to_have_text("planned")
    expect(page_a.get_by_test_id("no-quantities")).to_be_visible()
    mapping = json.loads(page_a.get_by_label(re.compile("^Mapping")).input_value())
    assert mapping["columns"]["sku"] == "SKU" and mapping["quantities"] == {}  # pre-filled
    mapping["quantities"] = {"IMP": "Units"}
    page_a.get_by_label(re.compile("^Mapping")).fill(json.dumps(mapping))
    page_a.get_by_role("button", name="Preview again with this mapping").click()
    expect(page_a.get_by_test_id("import-status")).to_have_text("planned")
    expect(page_a.get_by_test_id("rows-rejected")).to_have_text("1")
    expect(page_a.locator("tr.rejected")).to_have_count(1)
    expect(page_a.locator("tr.rejected")).to_contain_text("'abc' is not a price")
    expect(page_a.get_by_text("IMP: 2 rows, 13 units")).to_be_visible()
    page_a.get_by_label(re.compile("Skip the 1 rejected row")).check()
    page_a.get_by_role("button", name=re.compile("^Apply")).click()
    expect(page_a.get_by_test_id("apply-status")).to_have_text("applied")
    expect(page_a.locator("progress")).to_have_attribute("value", "100.0")
    with stack.api(stack.a) as api:
        assert api.get("/v1/stock/IMP-3").json()["on_hand"] == 9
        assert api.get("/v1/items/IMP-1").json()["title"] == "Tent"
        assert api.get("/v1/items/IMP-2").status_code == 404  # the bad row was skipped


def _shopify_channel(stack: Stack, api: httpx.Client, skus: list[str]) -> None:
    for sku in skus:
        r = httpx.post(stack.shopify.url + "/_sim/products", json={
            "sku": sku, "quantities": {stack.shopify_location: 0}})
        assert r.status_code == 201, r.text
    r = api.post("/v1/channels", json={
        "code": "shop", "kind": "shopify", "name": "Shopify store", "locations": ["WH"],
        "settings": {"shop_url": stack.shopify.url, "location_id": stack.shopify_location},
        "credentials": {"access_token": SHOPIFY_TOKEN}, "rules": {"include": ["REC-*"]}})
    assert r.status_code == 201, r.text


def test_reconcile_finds_a_planted_difference_and_applies_it(page_a: Page,
                                                             stack: Stack) -> None:
    skus = ["REC-1", "REC-2", "REC-3"]
    with stack.api(stack.a) as api:
        seed(api, dict.fromkeys(skus, 10))
        _shopify_channel(stack, api, skus)
    eventually(lambda: all(stack.shopify_available(s) == 10 for s in skus), "first push")
    # Behind stocksync's back: the store now shows 3 of REC-2.
    httpx.put(stack.shopify.url + "/_sim/inventory/REC-2", json={"available": 3})
    page_a.goto("/reconcile")
    page_a.get_by_label("Channel").select_option("shop")
    page_a.get_by_role("button", name=re.compile("Run a dry run")).click()
    expect(page_a.get_by_test_id("drift")).to_have_text("33.3%")
    row = page_a.locator("tbody tr").filter(has_text="REC-2")
    expect(row).to_contain_text("10")
    expect(row).to_contain_text("3")
    assert stack.shopify_available("REC-2") == 3  # a dry run changes nothing
    page_a.get_by_label("Select REC-2").check()
    page_a.get_by_role("button", name="Apply selected").click()
    expect(page_a.get_by_test_id("applied")).to_have_text("1")
    assert stack.shopify_available("REC-2") == 10
    page_a.get_by_role("link", name="« Reconcile").click()
    history = page_a.locator("tbody tr").filter(
        has=page_a.get_by_role("cell", name="shop", exact=True))
    expect(history).to_have_count(2)  # the history: the dry run, then the apply


def test_a_dead_letter_is_replayed_from_the_inbox(page_a: Page, stack: Stack) -> None:
    with stack.api(stack.a) as api:
        seed(api, {"DL-1": 20})
        r = api.post("/v1/channels", json={
            "code": "till", "kind": "pos", "name": "Shop till", "locations": ["WH"],
            "settings": {"store.12": "WH"}, "credentials": {"webhook_secret": TILL_SECRET}})
        assert r.status_code == 201, r.text
        raw = till_sale([("DL-1", -2)], store="99", txn="T-dl-1")  # store 99: not mapped
        sent = httpx.post(stack.url + r.json()["webhook_path"], content=raw, headers={
            "Content-Type": "application/json",
            "X-POS-Signature": pos_signature(TILL_SECRET, raw)})
        assert sent.status_code == 200, sent.text
        eventually(lambda: api.get("/v1/inbox", params={"status": "failed"}).json(),
                   "the delivery dead-lettered")
        page_a.goto("/inbox")
        row = page_a.locator("tbody tr").filter(has_text="till")
        expect(row).to_contain_text("store.99")
        assert api.patch("/v1/channels/till", json={"settings": {
            "store.12": "WH", "store.99": "WH"}}).status_code == 200  # the fix
        row.get_by_role("button", name="Replay").click()
        expect(row).to_contain_text("queued again")
        eventually(lambda: api.get("/v1/stock/DL-1").json()["on_hand"] == 18,
                   "the replayed sale")
    page_a.goto("/inbox?status=done")
    expect(page_a.locator("tbody tr").filter(has_text="till")).to_contain_text("done")
