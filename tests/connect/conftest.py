"""Store connections end to end: stocksync (a live server with its workers) and the
platform simulators, each on a real socket; the test plays the merchant's browser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.simulators import amazon, ebay, shopify, square, woocommerce
from stocksync.simulators.amazon_oauth import APPLICATION_ID
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.ebay_state import EbaySimConfig
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify_oauth import CLIENT_ID, CLIENT_SECRET
from stocksync.simulators.square_oauth import APPLICATION_ID as SQUARE_APP
from stocksync.simulators.square_oauth import APPLICATION_SECRET as SQUARE_SECRET
from tests.conftest import (
    TEST_SECRET,
    LiveServer,
    Tenant,
    new_tenant,
    postgres_settings,
    seed,
)
from tests.e2e.conftest import eventually  # noqa: F401  (re-exported)

RU_NAME = "stocksync-test-RuName"


class Platforms:
    """One simulator per platform, started on first use."""

    def __init__(self) -> None:
        self.servers: dict[str, ServerThread] = {}
        self.apps: dict[str, Any] = {}

    def url(self, kind: str) -> str:
        if kind not in self.servers:
            self.apps[kind] = {"shopify": shopify.create_app, "ebay": ebay.create_app,
                               "amazon": amazon.create_app, "square": square.create_app,
                               "woocommerce": woocommerce.create_app}[kind]()
            self.servers[kind] = ServerThread(self.apps[kind]).start()
        return self.servers[kind].url

    def app(self, kind: str) -> Any:
        self.url(kind)
        return self.apps[kind]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()


def configure(svc: Stocksync, platforms: Platforms, kind: str) -> str:
    """This stocksync's registered app for `kind`, pointed at its simulator (what a
    deployment sets with STOCKSYNC_* variables; read at each request). The simulator's
    URL."""
    s, url = svc.settings, platforms.url(kind)
    if kind == "shopify":
        s.shopify_client_id, s.shopify_client_secret = CLIENT_ID, CLIENT_SECRET
        s.shopify_admin_url = url
    elif kind == "ebay":
        config = EbaySimConfig()
        s.ebay_client_id, s.ebay_client_secret = config.client_id, config.client_secret
        s.ebay_ru_name, s.ebay_auth_url, s.ebay_api_url = RU_NAME, url, url
    elif kind == "amazon":
        lwa = AmazonSimConfig()
        s.amazon_application_id, s.amazon_draft_app = APPLICATION_ID, True
        s.amazon_lwa_client_id, s.amazon_lwa_client_secret = (lwa.lwa_client_id,
                                                              lwa.lwa_client_secret)
        s.amazon_seller_central_url = s.amazon_endpoint = url
        s.amazon_lwa_token_url = url + "/auth/o2/token"
    elif kind == "square":
        s.square_application_id, s.square_application_secret = SQUARE_APP, SQUARE_SECRET
        s.square_base_url = url
    return url


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    found = Platforms()
    yield found
    found.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def connect_db(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One database of each kind per test module (each test has its own tenant): a
    server per module instead of per test keeps the set quick."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("connect") / "stocksync.db"
        yield Settings(database_url=f"sqlite:///{path}", run_workers=False,
                       secret_key=TEST_SECRET, reconcile_minutes=0)
        return
    yield from postgres_settings()


@pytest.fixture(scope="module")
def svc(connect_db: Settings) -> Iterator[Stocksync]:
    service = build_service(connect_db)
    yield service
    service.engine.dispose()


@pytest.fixture(scope="module")
def live(svc: Stocksync) -> Iterator[LiveServer]:
    with LiveServer(svc) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_settings(svc: Stocksync) -> Iterator[None]:
    """A test may shorten the nonce lifetime: the next one gets the default back."""
    yield
    svc.settings.connect_minutes = Settings().connect_minutes


@pytest.fixture
def merchant(live: LiveServer, svc: Stocksync) -> Iterator[httpx.Client]:
    """The merchant's API client (their tenant's key), with stock at location `main`."""
    tenant: Tenant = new_tenant(svc, f"merchant-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=live.url, headers=tenant.headers, timeout=30) as client:
        client.app_svc = svc  # type: ignore[attr-defined]
        seed(client, {"SKU-1": {"main": 7}, "SKU-2": {"main": 3}})
        yield client


SQLITE_ONLY = pytest.mark.parametrize("connect_db", ["sqlite"], indirect=True)


def start(merchant: httpx.Client, kind: str, **params: Any) -> dict[str, Any]:
    r = merchant.get(f"/v1/connect/{kind}", params={"code": kind, "location": "main",
                                                    **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


def browse(url: str) -> httpx.Response:
    """The merchant's browser: follows the platform's redirect back to stocksync."""
    return httpx.get(url, follow_redirects=True, timeout=30)


def platform_redirect(url: str) -> str:
    """Where the platform sends the browser after consent (not followed)."""
    r = httpx.get(url, timeout=30)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def channels(merchant: httpx.Client) -> list[str]:
    r = merchant.get("/v1/channels")
    assert r.status_code == 200, r.text
    return [c["code"] for c in r.json()]
