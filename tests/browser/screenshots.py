"""Regenerate docs/screenshots/*.png: the main pages over a small demo tenant.

    .venv/bin/python -m tests.browser.screenshots [output folder]

Starts the same stack as the browser tests (server, workers, Shopify simulator), fills it
with a few items, two channels, a planted difference, an import and a dead letter."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from stocksync.ingest.pos import pos_signature
from tests.browser.channel_settings_shot import shoot_channel_settings
from tests.browser.conftest import (
    CHROMIUM,
    SHOPIFY_TOKEN,
    Stack,
    build_stack,
    eventually,
    seed,
    sign_in,
)
from tests.browser.listings_data import ebay_and_images, fill_listings
from tests.integration.test_pos_intake import SECRET as TILL_SECRET
from tests.integration.test_pos_intake import body as till_sale

PRODUCTS = {"TENT-2P": ("Trail tent, 2 person", 14), "TENT-4P": ("Family tent, 4 person", 6),
            "STOVE-1": ("Camping stove", 25), "LAMP-LED": ("LED lantern", 40),
            "BAG-20L": ("Day pack 20 L", 18), "BAG-45L": ("Trek pack 45 L", 3)}


def ean13(n: int) -> str:
    digits = f"400638{n:06d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return digits + str(check)


def fill(stack: Stack) -> tuple[str, str]:
    """Demo data; returns (a reconciliation id, an import id)."""
    with stack.api(stack.a) as api:
        seed(api, {sku: qty for sku, (_, qty) in PRODUCTS.items()})
        for n, (sku, (title, _)) in enumerate(PRODUCTS.items()):
            r = api.put(f"/v1/items/{sku}", json={"title": title, "price": f"{19 + 10 * n}.90",
                                                  "currency": "EUR", "barcodes": [ean13(n)]})
            assert r.status_code == 200, r.text
        for sku in PRODUCTS:
            httpx.post(stack.shopify.url + "/_sim/products", json={
                "sku": sku, "quantities": {stack.shopify_location: 0}})
        assert api.post("/v1/channels", json={
            "code": "shop", "kind": "shopify", "name": "Shopify store", "locations": ["WH"],
            "settings": {"shop_url": stack.shopify.url,
                         "location_id": stack.shopify_location},
            "credentials": {"access_token": SHOPIFY_TOKEN},
            "rules": {"safety_buffer": 1}}).status_code == 201
        till = api.post("/v1/channels", json={
            "code": "till", "kind": "pos", "name": "Shop till", "locations": ["WH"],
            "settings": {"store.12": "WH"}, "credentials": {"webhook_secret": TILL_SECRET}})
        eventually(lambda: stack.shopify_available("TENT-2P") == 13, "first push")
        api.post("/v1/movements", json={"type": "sale", "sku": "TENT-2P", "location": "WH",
                                        "quantity": 2})
        api.post("/v1/reservations", json={"sku": "STOVE-1", "quantity": 2, "location": "WH",
                                           "kind": "checkout"})
        raw = till_sale([("LAMP-LED", -1)], store="99", txn="T-1042")
        httpx.post(stack.url + till.json()["webhook_path"], content=raw, headers={
            "Content-Type": "application/json",
            "X-POS-Signature": pos_signature(TILL_SECRET, raw)})
        httpx.put(stack.shopify.url + "/_sim/inventory/BAG-45L", json={"available": 7})
        report = api.post("/v1/channels/shop/reconcile").json()
        job = api.post("/v1/imports", files={"file": (
            "delivery-note.csv", b"SKU,Name,Price,Qty WH\nTENT-2P,Trail tent,,5\n"
            b"NEW-1,Trekking pole,abc,10\nNEW-2,Sleeping mat,29.90,8\n", "text/csv")}).json()
        eventually(lambda: api.get("/v1/inbox", params={"status": "failed"}).json(),
                   "the dead letter")
        eventually(lambda: api.get(f"/v1/imports/{job['id']}").json()["status"] != "planning",
                   "the import preview")
    return report["id"], job["id"]


def shoot(page: Page, out: Path, name: str, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stack_runs = build_stack(Path(tempfile.mkdtemp(prefix="stocksync-shots-")))
    stack = next(stack_runs)
    try:
        report_id, import_id = fill(stack)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_context(base_url=stack.url,
                                       viewport={"width": 1280, "height": 800}).new_page()
            page.goto("/login")
            page.screenshot(path=str(out / "login.png"))
            sign_in(page, stack.a)
            for name, path in [("overview", "/overview"), ("items", "/items"),
                               ("item", "/items/TENT-2P"), ("channels", "/channels"),
                               ("channel", "/channels/shop"),
                               ("reconcile", f"/reconcile/{report_id}"),
                               ("import", f"/imports/{import_id}"), ("inbox", "/inbox"),
                               ("settings", "/settings")]:
                shoot(page, out, name, path)
            with ebay_and_images() as (ebay, model), stack.api(stack.a) as api:
                fill_listings(stack.svc, api, ebay, model)
                shoot(page, out, "listings", "/listings?status=any")
                page.goto("/listings/items/LST-COAT-3")
                page.get_by_role("button", name="Read the images (2)").click()
                page.get_by_role("status").filter(has_text="image(s) read").wait_for()
                page.screenshot(path=str(out / "listing-item.png"), full_page=True)
            shoot_channel_settings(page, stack, out)
            browser.close()
    finally:
        stack_runs.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
