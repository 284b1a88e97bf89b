"""Connecting a simulated Shopify store through its authorisation flow from the
dashboard, testing the connection, reading the preview and confirming it: then the first
push reaches the store."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_oauth import CLIENT_ID, CLIENT_SECRET
from tests.browser.conftest import Stack, eventually, seed

SHOP = "stocksync-sim.myshopify.com"


def test_connect_a_shopify_store_confirm_its_preview_and_see_the_push(
        page_a: Page, stack: Stack) -> None:
    with ServerThread(shopify_app()) as store, stack.api(stack.a) as api:
        settings = stack.svc.settings  # the app this deployment registered with Shopify
        settings.shopify_client_id, settings.shopify_client_secret = CLIENT_ID, CLIENT_SECRET
        settings.shopify_admin_url = store.url
        location = str(httpx.get(store.url + "/_sim/state").json()["locations"][0]["id"])
        for sku in ("OAUTH-1", "OAUTH-2"):
            assert httpx.post(store.url + "/_sim/products", json={
                "sku": sku, "quantities": {location: 50}}).status_code == 201
        seed(api, {"OAUTH-1": 7, "OAUTH-2": 3})

        def shows(sku: str) -> int:
            return int(httpx.get(store.url + "/_sim/state").json()["available"][sku][location])

        page_a.goto("/channels")
        page_a.get_by_text("Connect a store").click()
        page_a.get_by_label("Platform", exact=True).select_option("shopify")
        page_a.get_by_label("Channel code").fill("eu-store")
        page_a.get_by_label("Stock from location(s)").select_option("WH")
        page_a.get_by_label("Shopify shop").fill(SHOP)
        page_a.get_by_label(re.compile("Platform location id")).fill(location)
        page_a.get_by_role("button", name="Continue to the platform").click()
        # The store approves and sends the browser back to stocksync's callback, which
        # lands a flow started from the dashboard on the new channel's page.
        page_a.wait_for_url(re.compile(r"/channels/eu-store\?note="))
        expect(page_a.get_by_role("status")).to_have_text("connected: preview")
        expect(page_a.locator("h1 .badge")).to_have_text("preview")
        page_a.get_by_role("button", name="Test the connection").click()
        expect(page_a.get_by_test_id("connection-test")).to_contain_text("Connection works")
        page_a.get_by_role("button", name="Show what the first push would change").click()
        row = page_a.locator("#channel-preview tbody tr").filter(has_text="OAUTH-1")
        expect(row).to_contain_text("50")
        expect(row).to_contain_text("7")
        assert shows("OAUTH-1") == 50  # the preview wrote nothing
        page_a.get_by_role("button", name="Confirm and start pushing").click()
        expect(page_a.get_by_role("status")).to_contain_text("confirmed")
        eventually(lambda: shows("OAUTH-1") == 7 and shows("OAUTH-2") == 3,
                   "the first push after confirmation")
