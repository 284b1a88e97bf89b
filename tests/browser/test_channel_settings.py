"""A channel's settings through its page: content sync per data type (direction, timing, a
bad cron refused with the API's message and nothing saved) and a Shopify channel's store
locations (a stocksync location mapped twice refused, then two store locations mapped,
each getting its own row in the channel's SKU list). Checked through the API."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import SHOPIFY_TOKEN, Stack, csrf_of, eventually, seed


def _shopify_channel(stack: Stack, api: httpx.Client, code: str) -> None:
    r = api.post("/v1/channels", json={
        "code": code, "kind": "shopify", "name": f"Shopify {code}", "locations": ["WH"],
        "settings": {"shop_url": stack.shopify.url, "location_id": stack.shopify_location},
        "credentials": {"access_token": SHOPIFY_TOKEN}})
    assert r.status_code == 201, r.text


def test_content_sync_direction_and_timing_and_a_bad_cron_refused(
        page_a: Page, stack: Stack) -> None:
    with stack.api(stack.a) as api:
        seed(api, {})
        _shopify_channel(stack, api, "cs-shop")
        page_a.goto("/channels/cs-shop")
        form = page_a.locator("#content-settings")
        form.get_by_label("Sync title").check()
        form.get_by_label("Sync price").check()
        form.get_by_label("Direction of price").select_option("both")
        form.get_by_label("Timing of price").fill("*/15 * * * *")
        form.get_by_role("button", name="Save content sync").click()
        expect(form.get_by_role("status")).to_have_text("content sync settings saved")
        saved = api.get("/v1/channels/cs-shop/content").json()
        assert saved["types"]["price"] == {"enabled": True, "direction": "both",
                                           "schedule": "*/15 * * * *"}
        assert saved["types"]["title"] == {"enabled": True, "direction": "out",
                                           "schedule": "realtime"}
        # A bad cron: refused beside its field with the API's message, nothing saved (not
        # even the other change sent with it).
        form.get_by_label("Direction of title").select_option("in")
        form.get_by_label("Timing of description").fill("every monday")
        form.get_by_role("button", name="Save content sync").click()
        expect(form.get_by_role("alert")).to_contain_text(
            "schedule 'every monday' is neither 'realtime' nor a cron expression")
        field = form.get_by_label("Timing of description")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_value("every monday")  # what was typed stays to be fixed
        expect(form.locator("#when-description-error")).to_contain_text("neither")
        assert api.get("/v1/channels/cs-shop/content").json()["types"] == saved["types"]
        # The API says the same for the same input.
        refused = api.patch("/v1/channels/cs-shop/content", json={
            "types": {"description": {"schedule": "every monday"}}})
        assert refused.status_code == 422
        assert "neither 'realtime' nor a cron" in refused.json()["message"]


def test_two_shopify_store_locations_mapped_with_a_double_mapping_refused(
        page_a: Page, stack: Stack) -> None:
    a = stack.shopify_location
    b = str(httpx.post(stack.shopify.url + "/_sim/locations",
                       json={"name": "Brooklyn store"}).json()["id"])
    with stack.api(stack.a) as api:
        seed(api, {"SL-TEE": 4})
        assert api.put("/v1/locations/NYC", json={"name": "New York"}).status_code in (200, 201)
        assert api.post("/v1/movements", json={"type": "receive", "sku": "SL-TEE",
                                               "location": "NYC", "quantity": 2}
                        ).status_code == 201
        httpx.post(stack.shopify.url + "/_sim/products", json={
            "sku": "SL-TEE", "quantities": {a: 0, b: 0}})
        _shopify_channel(stack, api, "sl-shop")
        page_a.goto("/channels/sl-shop")
        form = page_a.locator("#store-locations")
        form.get_by_label(f"Stocksync locations shown at store location {a}"
                          ).select_option(["WH"])
        form.get_by_label("Id of new store location 1").fill(b)
        form.get_by_label("Stocksync locations shown at new store location 1"
                          ).select_option(["WH", "NYC"])
        form.get_by_role("button", name="Save store locations").click()
        expect(form.get_by_role("alert")).to_contain_text(
            f"WH is mapped to both store locations {a} and {b}")
        assert not any(k.startswith("location_map.") for k in
                       api.get("/v1/channels/sl-shop").json()["settings"])
        # Fixed: the Brooklyn store shows NYC only.
        form.get_by_label(f"Stocksync locations shown at store location {b}"
                          ).select_option(["NYC"])
        form.get_by_role("button", name="Save store locations").click()
        expect(form.get_by_role("status")).to_contain_text("store locations saved")
        settings = api.get("/v1/channels/sl-shop").json()["settings"]
        assert (settings[f"location_map.{a}"], settings[f"location_map.{b}"]) == ("WH", "NYC")
        assert settings["location_id"] == a  # other settings kept

        def rows() -> dict[str, int | None]:
            found = api.get("/v1/channels/sl-shop/skus", params={"after": "SL-TE"}).json()
            return {r["sku"]: r["wanted"] for r in found if r["sku"].startswith("SL-TEE")}

        eventually(lambda: rows() == {f"SL-TEE@{a}": 4, f"SL-TEE@{b}": 2},
                   "one target per store location")
        eventually(lambda: httpx.get(stack.shopify.url + "/_sim/state").json()["available"]
                   .get("SL-TEE") == {a: 4, b: 2}, "each store location pushed its own")
        page_a.goto("/channels/sl-shop?q=SL-TEE")
        for leg, wanted in ((a, "4"), (b, "2")):
            row = page_a.locator("tbody tr").filter(
                has=page_a.get_by_role("link", name=re.compile(f"^SL-TEE@{leg}$")))
            expect(row.locator("td.num").first).to_have_text(wanted)


def test_settings_forms_are_tenant_scoped_and_need_the_csrf_token(
        page_a: Page, stack: Stack) -> None:
    with stack.api(stack.b) as api:
        api.put("/v1/locations/WH", json={"name": "Warehouse"})
        assert api.post("/v1/channels", json={
            "code": "b-shop", "kind": "shopify", "name": "B's store", "locations": ["WH"],
            "settings": {"shop_url": stack.shopify.url,
                         "location_id": stack.shopify_location},
            "credentials": {"access_token": SHOPIFY_TOKEN}}).status_code == 201
    page_a.goto("/channels")
    req, token = page_a.request, csrf_of(page_a)
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    for path in ("/channels/b-shop/content-settings", "/channels/b-shop/store-locations"):
        assert req.get(path).status == 404, path
        assert req.post(path, form={"title.enabled": "on", "rows": "1", "store_id_0": "9",
                                    "map_0": "WH"}, headers=headers).status == 404, path
        assert req.post(path.replace("b-shop", "sl-none"), form={}).status == 403, path
    with stack.api(stack.b) as api:
        assert api.get("/v1/channels/b-shop/content").json()["types"] == {}
        assert "location_map.9" not in api.get("/v1/channels/b-shop").json()["settings"]
