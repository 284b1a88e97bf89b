"""Nothing is loaded from the internet: /docs (Swagger UI) and the dashboard render with
every request outside this server blocked."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, Route, expect

from tests.browser.conftest import Stack, sign_in


def _only_this_server(context: BrowserContext, stack: Stack, outside: list[str]) -> None:
    def guard(route: Route) -> None:
        if route.request.url.startswith(stack.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)


# Slow (3-6 s): Chromium parses the 1.7 MB Swagger UI bundle and the server builds the
# OpenAPI document of every route, once, for this test.
@pytest.mark.slow
def test_docs_and_pages_render_with_the_internet_blocked(context: BrowserContext,
                                                         stack: Stack) -> None:
    outside: list[str] = []
    _only_this_server(context, stack, outside)
    context.clear_cookies()
    page = context.new_page()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("stocksync")
    expect(page.get_by_text("/v1/items/{sku}").first).to_be_visible()
    sign_in(page, stack.a)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx ran
    assert outside == []
    assert httpx.get(stack.url + "/redoc").status_code == 404  # its page needs a CDN


def test_without_a_session_pages_redirect_and_json_answers_401(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as client:
        assert client.get("/api/status").status_code == 401
        r = client.get("/overview/live", headers={"HX-Request": "true"})
        assert r.status_code == 401 and r.headers["HX-Redirect"].startswith("/login")
        r = client.get("/login", params={"next": "//evil.example/x"})
        assert 'value="/overview"' in r.text  # no open redirect after signing in
        r = client.get("/items/X-1")
        assert r.status_code == 303 and re.match(r"/login\?next=%2Fitems%2FX-1$",
                                                 r.headers["location"])
