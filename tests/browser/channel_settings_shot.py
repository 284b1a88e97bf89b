"""docs/screenshots/channel-settings.png: a channel's content sync and store locations
forms, filled in through the page (called by tests.browser.screenshots, last: mapping the
store locations re-pushes the channel's SKUs)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack


def shoot_channel_settings(page: Page, stack: Stack, out: Path) -> None:
    brooklyn = str(httpx.post(stack.shopify.url + "/_sim/locations",
                              json={"name": "Brooklyn store"}).json()["id"])
    with stack.api(stack.a) as api:
        api.put("/v1/locations/NYC", json={"name": "New York shop"})
    page.goto("/channels/shop")
    content = page.locator("#content-settings")
    for t in ("title", "description", "price"):
        content.get_by_label(f"Sync {t}").check()
    content.get_by_label("Direction of price").select_option("both")
    content.get_by_label("Timing of description").fill("0 */6 * * *")
    content.get_by_role("button", name="Save content sync").click()
    expect(content.get_by_role("status")).to_be_visible()
    stores = page.locator("#store-locations")
    stores.get_by_label(f"Stocksync locations shown at store location "
                        f"{stack.shopify_location}").select_option(["WH"])
    stores.get_by_label("Id of new store location 1").fill(brooklyn)
    stores.get_by_label("Stocksync locations shown at new store location 1"
                        ).select_option(["NYC"])
    stores.get_by_role("button", name="Save store locations").click()
    expect(stores.get_by_role("status")).to_be_visible()
    page.locator("#channel-settings").screenshot(path=str(out / "channel-settings.png"))
