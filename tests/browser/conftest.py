"""Browser tests: Debian's Chromium driven by Playwright against a real uvicorn server
with its workers, a Shopify simulator and two tenants, all started once per session (a
browser start costs ~1 s; each test gets a fresh browser context, i.e. fresh cookies).

SQLite only: storage on PostgreSQL is covered by the API and storage suites."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig
from tests.conftest import IN_CI, TEST_SECRET, LiveServer, Tenant, new_tenant
from tests.integration.test_pos_intake import eventually as eventually

CHROMIUM = os.environ.get("STOCKSYNC_CHROMIUM", "/usr/bin/chromium")
SHOPIFY_TOKEN = "shpat_browser_token_123"
TIMEOUT_MS = 10_000


@dataclass
class Stack:
    svc: Stocksync
    server: LiveServer
    shopify: ServerThread
    shopify_location: str
    a: Tenant
    b: Tenant

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, tenant: Tenant) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=tenant.headers, timeout=30)

    def shopify_available(self, sku: str) -> int | None:
        state = httpx.get(self.shopify.url + "/_sim/state").json()
        found: int | None = state["available"].get(sku, {}).get(self.shopify_location)
        return found


def build_stack(folder: Path) -> Iterator[Stack]:
    """The whole installation, for the tests and for the screenshot script."""
    settings = Settings(database_url=f"sqlite:///{folder / 'stocksync.db'}",
                        secret_key=TEST_SECRET, reconcile_minutes=0,
                        secret_key_file=str(folder / "stocksync.key"))
    svc = build_service(settings)
    a, b = new_tenant(svc, "Acme Outdoor"), new_tenant(svc, "Bolt Bikes")
    with LiveServer(svc) as live, ServerThread(
            shopify_app(ShopifySimConfig(access_token=SHOPIFY_TOKEN))) as shop:
        location = str(httpx.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
        yield Stack(svc, live, shop, location, a, b)
    svc.engine.dispose()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from build_stack(tmp_path_factory.mktemp("browser"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Playwright's sync API keeps an event loop running in the thread that started it, and
    no asyncio or anyio code can run in that thread meanwhile. So every browser test goes to
    one xdist worker, one after the other (`--dist loadgroup`), and the browser fixtures are
    package-scoped: torn down before that worker runs any other test."""
    for item in items:
        if item.nodeid.startswith("tests/browser/"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium is needed at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    b = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield b
    b.close()


@pytest.fixture(scope="package")
def signed_in_a(browser: Browser, stack: Stack) -> dict[str, Any]:
    """Tenant A's signed-in cookies, made once by the sign-in form (each test's context
    starts from them instead of signing in again)."""
    ctx = browser.new_context(base_url=stack.url)
    sign_in(ctx.new_page(), stack.a)
    state = ctx.storage_state()
    ctx.close()
    return dict(state)


@pytest.fixture
def context(browser: Browser, stack: Stack,
            signed_in_a: dict[str, Any]) -> Iterator[BrowserContext]:
    """A fresh browser context signed in as tenant A (clear its cookies to be nobody)."""
    ctx = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 900},
                              storage_state=signed_in_a)  # type: ignore[arg-type]
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


def sign_in(page: Page, tenant: Tenant) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(tenant.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/overview$"))


@pytest.fixture
def page_a(context: BrowserContext) -> Page:
    """A page signed in as tenant A."""
    return context.new_page()


def csrf_of(page: Page) -> str:
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    return token


def seed(api: httpx.Client, skus: dict[str, int], location: str = "WH") -> None:
    assert api.put(f"/v1/locations/{location}", json={"name": "Warehouse"}).status_code \
        in (200, 201)
    for sku, quantity in skus.items():
        r = api.put(f"/v1/items/{sku}", json={"title": f"Item {sku}"})
        assert r.status_code in (200, 201), r.text
        if quantity:
            r = api.post("/v1/movements", json={"type": "receive", "sku": sku,
                                                "location": location, "quantity": quantity})
            assert r.status_code == 201, r.text
