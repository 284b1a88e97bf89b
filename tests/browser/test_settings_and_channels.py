"""Settings (alert destinations, API keys) and channel controls (pause, resume, rules)
through the pages, checked through the API."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack


def test_alert_destinations_and_api_keys(page_a: Page, stack: Stack) -> None:
    page_a.goto("/settings")
    page_a.get_by_label("Slack-compatible webhook URL").fill("https://hooks.example/T1/B2/x")
    page_a.get_by_label(re.compile("Daily digest recipients")).fill("ops@acme.example, "
                                                                    "me@acme.example")
    page_a.get_by_role("button", name="Save").click()
    expect(page_a.locator("#alert-settings")).to_contain_text("https://hooks.example/…")
    page_a.get_by_label("Label").fill("warehouse scanner")
    page_a.get_by_role("button", name="Create a key").click()
    new_key = page_a.get_by_test_id("new-key").inner_text()
    assert new_key.startswith("sk_")
    with stack.api(stack.a) as api:
        alerts = api.get("/v1/settings/alerts").json()
        assert alerts["digest_to"] == ["ops@acme.example", "me@acme.example"]
        assert alerts["webhook_url"] == "https://hooks.example/…"
    page_a.once("dialog", lambda dialog: dialog.accept())
    row = page_a.locator("#keys tbody tr").filter(has_text="warehouse scanner")
    row.get_by_role("button", name="Revoke").click()
    expect(page_a.locator("#keys tbody tr").filter(has_text="warehouse scanner")) \
        .to_contain_text("revoked")
    with stack.api(stack.a) as api:
        assert api.get("/v1/keys", headers={"Authorization": f"Bearer {new_key}"}
                       ).status_code == 401


def test_pause_resume_and_rules_of_a_channel(page_a: Page, stack: Stack) -> None:
    with stack.api(stack.a) as api:
        api.put("/v1/locations/WH", json={"name": "Warehouse"})
        r = api.post("/v1/channels", json={
            "code": "kiosk", "kind": "pos", "name": "Kiosk till", "locations": ["WH"],
            "credentials": {"webhook_secret": "kiosk-secret-1"}})
        assert r.status_code == 201, r.text
        page_a.goto("/channels/kiosk")
        page_a.get_by_role("button", name="Pause").click()
        expect(page_a.get_by_role("status")).to_have_text("paused")
        assert api.get("/v1/channels/kiosk").json()["enabled"] is False
        page_a.get_by_role("button", name="Resume").click()
        expect(page_a.get_by_role("status")).to_have_text("resumed")
        page_a.get_by_label("Safety buffer (units kept back)").fill("2")
        page_a.get_by_label(re.compile("^Never SKUs matching")).fill("SAMPLE-*")
        page_a.get_by_role("button", name="Save rules").click()
        expect(page_a.get_by_role("status")).to_have_text("rules saved")
        channel = api.get("/v1/channels/kiosk").json()
        assert channel["enabled"] is True
        assert channel["rules"]["safety_buffer"] == 2
        assert channel["rules"]["exclude"] == ["SAMPLE-*"]
