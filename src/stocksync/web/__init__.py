"""The dashboard: server-rendered pages (Jinja2 + htmx) served by `stocksync serve` itself.

`mount` adds the session middleware, the static files (every asset vendored: nothing is
loaded from the internet), the offline /docs and the page routers to the API app."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from stocksync.config import Settings
from stocksync.storage.credentials import load_or_create_key
from stocksync.web import (
    auth_routes,
    channel_routes,
    channel_settings_routes,
    connect_routes,
    docs,
    import_routes,
    inbox_routes,
    item_routes,
    listing_item_routes,
    listing_routes,
    overview_routes,
    reconcile_routes,
    settings_routes,
)
from stocksync.web.session import COOKIE, SESSION_HOURS, install_handlers

STATIC = Path(__file__).parent / "static"


def session_secret(settings: Settings) -> str:
    """Derived from the installation's secret key (never the key itself), so every process
    of one installation signs and accepts the same cookies."""
    key = settings.secret_key or load_or_create_key(Path(settings.secret_key_file))
    return hmac.new(key.encode(), b"stocksync dashboard session", hashlib.sha256).hexdigest()


def mount(app: FastAPI, settings: Settings) -> None:
    # Secure cookies when the installation says it is reached over HTTPS (public_url);
    # `serve` itself speaks plain HTTP, usually behind a TLS proxy.
    secure = (getattr(settings, "public_url", None) or "").startswith("https://")
    app.add_middleware(SessionMiddleware, secret_key=session_secret(settings),
                       session_cookie=COOKIE, max_age=SESSION_HOURS * 3600,
                       same_site="lax", https_only=secure)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_handlers(app)
    app.include_router(docs.router)
    for module in (auth_routes, connect_routes, overview_routes, item_routes, reconcile_routes,
                   import_routes, inbox_routes, settings_routes, channel_routes,
                   channel_settings_routes,
                   listing_routes, listing_item_routes):
        app.include_router(module.router, include_in_schema=False)
