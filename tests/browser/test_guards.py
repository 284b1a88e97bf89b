"""A session only ever sees its own tenant, and no state-changing request is accepted
without the session's CSRF token."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import Stack, csrf_of, seed


def _b_objects(stack: Stack) -> dict[str, str]:
    """Tenant B's item, import and reconciliation ids (what A might guess)."""
    with stack.api(stack.b) as api:
        seed(api, {"B-SECRET-1": 4})
        job = api.post("/v1/imports", files={"file": ("b.csv", b"SKU,Title\nB-SECRET-2,x\n",
                                                      "text/csv")})
        assert job.status_code == 202, job.text
        keys = api.get("/v1/keys").json()
    return {"import": job.json()["id"], "key": keys[0]["prefix"]}


def test_tenant_a_cannot_load_tenant_b_pages_or_fragments(page_a: Page, stack: Stack) -> None:
    b = _b_objects(stack)
    page_a.goto("/items")
    token = csrf_of(page_a)
    req = page_a.request
    for path in ("/items/B-SECRET-1", "/items/B-SECRET-1/live", f"/imports/{b['import']}",
                 f"/imports/{b['import']}/progress", "/reconcile/00000000-0000-0000-0000-0"
                 "00000000000"):
        r = req.get(path)
        assert r.status == 404, (path, r.status)
        # The answer may repeat the guessed SKU, never B's data (its title, its file).
        assert "Item B-SECRET-1" not in r.text() and "b.csv" not in r.text()
    r = req.get("/items?q=B-SECRET", headers={"HX-Request": "true"})
    assert r.status == 200 and "Item B-SECRET-1" not in r.text() and "No item matches" in r.text()
    r = req.get("/api/status")
    assert r.json()["tenant"] == stack.a.id
    # Writes aimed at B's objects, with A's valid token: refused, and B is unchanged.
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    assert req.post("/items/B-SECRET-1", form={"title": "mine now"},
                    headers=headers).status == 404
    assert req.post(f"/settings/keys/{b['key']}/revoke", headers=headers).status == 404
    assert req.post(f"/imports/{b['import']}/apply", headers=headers).status in (404, 422)
    with stack.api(stack.b) as api:
        assert api.get("/v1/items/B-SECRET-1").json()["title"] == "Item B-SECRET-1"
        assert all(k["active"] for k in api.get("/v1/keys").json())


def test_a_post_without_the_csrf_token_is_refused(page_a: Page, stack: Stack) -> None:
    with stack.api(stack.a) as api:
        seed(api, {"CSRF-1": 1})
    page_a.goto("/items/CSRF-1")
    req = page_a.request  # carries the session cookie, like a forged cross-site form would
    refused = req.post("/items/CSRF-1", form={"title": "forged"}, max_redirects=0)
    assert refused.status == 403
    wrong = req.post("/items/CSRF-1", form={"title": "forged", "csrf_token": "x" * 43},
                     max_redirects=0)
    assert wrong.status == 403
    assert req.post("/settings/keys", form={"label": "forged"}).status == 403
    with stack.api(stack.a) as api:
        assert api.get("/v1/items/CSRF-1").json()["title"] == "Item CSRF-1"
        assert all(k["label"] != "forged" for k in api.get("/v1/keys").json())
    # The page's own form, with its token, goes through.
    page_a.get_by_label("Title").fill("Renamed in the dashboard")
    page_a.get_by_label("Price", exact=True).fill("12.50")
    page_a.get_by_role("button", name="Save", exact=True).click()
    page_a.get_by_role("status").filter(has_text="Saved").wait_for()
    with stack.api(stack.a) as api:
        item = api.get("/v1/items/CSRF-1").json()
    assert item["title"] == "Renamed in the dashboard" and float(item["price"]) == 12.5
