"""create_app: the FastAPI application (API + workers in one process by default)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from stocksync import __version__, web
from stocksync.agents.http import PATH as MCP_PATH
from stocksync.agents.http import McpEndpoint
from stocksync.api import errors
from stocksync.api.deps import KeyCache
from stocksync.api.errors import documented, json_error
from stocksync.api.hot import hot_path_for
from stocksync.api.limits import BodySizeLimit
from stocksync.api.routes import (
    alert_settings,
    catalog,
    channel_content,
    channels,
    connect,
    events,
    health,
    imports,
    inbox,
    keys,
    leakage,
    listings,
    logs,
    publishable_keys,
    reconciliations,
    reservations,
    stock,
    storefront,
    webhooks,
)
from stocksync.app.service import Stocksync
from stocksync.app.webhook_intake import WebhookIntake
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.logs import configure as configure_logs
from stocksync.workers import start_workers
from stocksync.workers.alerts import AlertWorker
from stocksync.workers.channels import ChannelSupervisor
from stocksync.workers.content import ContentSupervisor
from stocksync.workers.ingest import IngestWorker
from stocksync.workers.leader import leadership
from stocksync.workers.reconciler import ReconcileScheduler

# Sync route handlers run in a thread pool; the default 40 threads would cap concurrency
# below the database pool under load.
THREADS = 128


def create_app(settings: Settings | None = None, service: Stocksync | None = None,
               *, workers: bool | None = None) -> FastAPI:
    settings = settings or (service.settings if service else Settings.from_env())
    configure_logs(settings.log_level)
    svc = service or build_service(settings)
    run_workers = settings.run_workers if workers is None else workers

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        loops = start_workers(svc) if run_workers else []
        tasks = []
        if run_workers and svc.box is not None:
            tasks.append(asyncio.create_task(IngestWorker(svc, svc.box).run()))
            lead = leadership(svc).run_while_leading  # one process of several (issue 12)
            tasks.append(asyncio.create_task(lead(AlertWorker(svc).run)))
            if settings.run_channel_workers:
                tasks.append(asyncio.create_task(ChannelSupervisor(svc, svc.box).run()))
                tasks.append(asyncio.create_task(ContentSupervisor(svc).run()))
                tasks.append(asyncio.create_task(lead(ReconcileScheduler(svc).run)))
        app.state.workers = {"loops": loops, "tasks": tasks}
        try:
            async with mcp.lifespan():
                yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for loop in loops:
                loop.stop()
            await app.state.hot.close()  # the hot path's connections (issue 12)

    # /docs is served by the dashboard from vendored assets (web/docs.py): FastAPI's own
    # pages load theirs from a CDN and are blank offline.
    app = FastAPI(title="stocksync", version=__version__, lifespan=lifespan,
                  description="One ledger of stock, pushed to every sales channel.",
                  docs_url=None, redoc_url=None)
    app.state.service = svc
    app.state.workers = {"loops": [], "tasks": []}
    app.state.key_cache = KeyCache()
    app.state.hot = hot_path_for(svc)  # async, coalesced writes and reads (issue 12)
    app.state.storefront = storefront.StorefrontState(settings)
    mcp = McpEndpoint(svc, lambda: app.state.key_cache)
    errors.install(app)
    app.state.webhook_intake = WebhookIntake(svc)
    app.include_router(health.router)
    for module in (catalog, stock, reservations, events, channels, inbox, reconciliations,
                   logs, keys, alert_settings, imports, leakage, publishable_keys):
        app.include_router(module.router, responses=documented(400, 401, 404, 409, 413, 422))
    app.include_router(channel_content.router,  # content sync (issue 14)
                       responses=documented(400, 401, 404, 422))
    app.include_router(webhooks.router, responses=documented(400, 401, 404, 413, 422))
    app.include_router(storefront.router)
    app.include_router(connect.router, responses=documented(400, 401, 404, 422))
    app.include_router(listings.router, responses=documented(400, 401, 404, 422))
    web.mount(app, settings)  # the dashboard: pages, session cookie, static files, /docs
    # The MCP SDK's own ASGI app (streamable HTTP), behind the tenant's secret key.
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"]))

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return _metrics(settings.metrics_token, request.headers.get("Authorization", ""))

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       larger={"/v1/imports": imports.MAX_UPLOAD_BYTES})
    return app


def _metrics(token: str | None, authorization: str) -> Response:
    """Prometheus text, for the operator only: its labels name tenants and channels, so it
    needs STOCKSYNC_METRICS_TOKEN, and is closed while none is set."""
    if token is None:
        return json_error(403, "metrics_disabled", "set STOCKSYNC_METRICS_TOKEN and scrape "
                          "with 'Authorization: Bearer <token>' to read metrics")
    scheme, _, sent = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(),
                                                             token.encode()):
        return json_error(401, "unauthorized", "metrics need 'Authorization: Bearer "
                          "<STOCKSYNC_METRICS_TOKEN>'", headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
