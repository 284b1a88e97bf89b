"""create_app: the FastAPI application (API + workers in one process by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from stocksync import __version__
from stocksync.api import errors
from stocksync.api.deps import KeyCache
from stocksync.api.limits import BodySizeLimit
from stocksync.api.routes import catalog, events, health, reservations, stock
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.workers import start_workers

# Sync route handlers run in a thread pool; the default 40 threads would cap concurrency
# below the database pool under load.
THREADS = 128


def create_app(settings: Settings | None = None, service: Stocksync | None = None,
               *, workers: bool | None = None) -> FastAPI:
    settings = settings or (service.settings if service else Settings.from_env())
    svc = service or build_service(settings)
    run_workers = settings.run_workers if workers is None else workers

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        loops = start_workers(svc) if run_workers else []
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()

    app = FastAPI(title="stocksync", version=__version__, lifespan=lifespan,
                  description="One ledger of stock, pushed to every sales channel.")
    app.state.service = svc
    app.state.key_cache = KeyCache()
    errors.install(app)
    for module in (health, catalog, stock, reservations, events):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
