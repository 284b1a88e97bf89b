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

from stocksync import __version__
from stocksync.agents.http import PATH as MCP_PATH
from stocksync.agents.http import McpEndpoint
from stocksync.api import errors
from stocksync.api.deps import KeyCache
from stocksync.api.errors import documented, json_error
from stocksync.api.limits import BodySizeLimit
from stocksync.api.routes import (
    alert_settings,
    catalog,
    channels,
    events,
    health,
    imports,
    inbox,
    keys,
    leakage,
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
from stocksync.workers.ingest import IngestWorker
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
            tasks.append(asyncio.create_task(AlertWorker(svc).run()))
            if settings.run_channel_workers:
                tasks.append(asyncio.create_task(ChannelSupervisor(svc, svc.box).run()))
                tasks.append(asyncio.create_task(ReconcileScheduler(svc).run()))
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

    app = FastAPI(title="stocksync", version=__version__, lifespan=lifespan,
                  description="One ledger of stock, pushed to every sales channel.")
    app.state.service = svc
    app.state.workers = {"loops": [], "tasks": []}
    app.state.key_cache = KeyCache()
    app.state.storefront = storefront.StorefrontState(settings)
    mcp = McpEndpoint(svc, lambda: app.state.key_cache)
    errors.install(app)
    app.state.webhook_intake = WebhookIntake(svc)
    app.include_router(health.router)
    for module in (catalog, stock, reservations, events, channels, inbox, reconciliations,
                   logs, keys, alert_settings, imports, leakage, publishable_keys):
        app.include_router(module.router, responses=documented(400, 401, 404, 409, 413, 422))
    app.include_router(webhooks.router, responses=documented(400, 401, 404, 413, 422))
    app.include_router(storefront.router)
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
