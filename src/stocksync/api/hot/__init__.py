"""What the async hot routes need without a thread hop: the service, the caller and the
hot path (app/hot.py) of this app, as async dependencies. FastAPI runs a plain `def`
dependency in its thread pool, so the hot routes must not use api/deps.py's `Svc`/`Who`."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from stocksync.api.deps import Caller, KeyCache, bearer
from stocksync.app.hot import HotPath
from stocksync.app.service import Stocksync
from stocksync.core.errors import Unauthorized
from stocksync.storage.tenants import KEY_PREFIX


def hot_path_for(svc: Stocksync) -> HotPath:
    """PostgreSQL gets the async store (its own pool, STOCKSYNC_DB_POOL_SIZE connections,
    opened on first use in the serving event loop); other stores run in a thread."""
    settings = svc.settings
    if settings.is_sqlite or svc.admin.kind != "postgresql":
        return HotPath(svc)
    from stocksync.storage.async_pg import PgAsyncStore

    return HotPath(svc, PgAsyncStore(settings.database_url, settings.database_schema,
                                     settings.db_pool_size))


async def service_async(request: Request) -> Stocksync:
    svc: Stocksync = request.app.state.service
    return svc


def hot_path(request: Request) -> HotPath:
    hot: HotPath = request.app.state.hot
    return hot


async def caller_async(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Caller:
    """api.deps.caller without the thread: the key cache answers in the event loop; only a
    miss (once per key per 30 s) reads the keys table, in a thread."""
    authorization = request.headers.get("Authorization")
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <api key>")
    scheme, _sep, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    cache: KeyCache = request.app.state.key_cache
    hit = cache._known.get(token)  # the same cache the sync routes fill and read
    if hit is not None and hit[1] > time.monotonic():
        tenant_id: str | None = hit[0]
    else:
        tenant_id = await anyio.to_thread.run_sync(cache.tenant, request.app.state.service,
                                                   token)
    if tenant_id is None:
        raise Unauthorized("unknown API key")
    return Caller(tenant_id, "key:" + token[:10])


AsyncSvc = Annotated[Stocksync, Depends(service_async)]
AsyncWho = Annotated[Caller, Depends(caller_async)]
