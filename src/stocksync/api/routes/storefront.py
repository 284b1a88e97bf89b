"""The read-only storefront surface: availability for a shop page or a buying agent,
with a publishable key (pk_...), cacheable for no longer than agents accept.

- `ETag` is the log position plus a digest of the answer, so `If-None-Match` gets 304
  until stock changes (the digest also covers a write not yet sequenced);
- `Cache-Control: max-age` is the freshness threshold (STOCKSYNC_AGENT_FRESH_SECONDS);
- each key has its own token bucket: over it, 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from stocksync.agents.offers import offer_graph, storefront_items
from stocksync.agents.reads import MAX_SKUS, Availability, read_availability
from stocksync.api.deps import Svc
from stocksync.api.errors import Error, documented, json_error
from stocksync.config import Settings
from stocksync.core.errors import Unauthorized
from stocksync.storage.tenants import PUBLISHABLE_PREFIX, tenant_for_publishable_key

KEY_CACHE_SECONDS = 30.0
RATE_LIMITED = {429: {"model": Error, "description": "over the key's rate: see Retry-After"}}
router = APIRouter(prefix="/storefront/v1", tags=["storefront"],
                   responses={**documented(401, 422), **RATE_LIMITED})
Skus = Annotated[list[str], Query(min_length=1, max_length=MAX_SKUS)]


class KeyBuckets:
    """A token bucket per publishable key: `burst` reads back to back, then `rate` per
    second. Sync routes run in threads, hence the lock."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        """0 when the read may go; else the seconds until one token is back."""
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0


class StorefrontState:
    def __init__(self, settings: Settings) -> None:
        self.buckets = KeyBuckets(settings.storefront_rate_per_second,
                                  settings.storefront_burst)
        self._known: dict[str, tuple[str, float]] = {}

    def forget_keys(self) -> None:
        self._known = {}  # a revoked key must fail on its next request

    def tenant(self, svc: Svc, key: str) -> str | None:
        hit = self._known.get(key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        with svc.engine.connect() as conn:
            tenant_id = tenant_for_publishable_key(conn, key)
        if tenant_id is not None:
            self._known[key] = (tenant_id, now + KEY_CACHE_SECONDS)
        return tenant_id


def _publishable(request: Request, svc: Svc) -> tuple[str, str]:
    """(tenant id, key) of `Authorization: Bearer pk_...` or `?key=pk_...`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else request.query_params.get("key", "")
    if not key:
        raise Unauthorized("missing publishable key: 'Authorization: Bearer pk_...' or "
                           "?key=pk_...")
    if not key.startswith(PUBLISHABLE_PREFIX):
        raise Unauthorized("the storefront takes publishable keys (pk_...) only: never put "
                           "a secret key in a page")
    state: StorefrontState = request.app.state.storefront
    tenant_id = state.tenant(svc, key)
    if tenant_id is None:
        raise Unauthorized("unknown or revoked publishable key")
    return tenant_id, key


Reader = Annotated[tuple[str, str], Depends(_publishable)]


def _throttled(request: Request, key: str) -> JSONResponse | None:
    state: StorefrontState = request.app.state.storefront
    wait = state.buckets.take(key, time.monotonic())
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    return json_error(429, "rate_limited", "too many reads with this publishable key",
                      {"retry_after_seconds": seconds}, headers={"Retry-After": str(seconds)})


VOLATILE = ("as_of", "age_seconds", "fresh")  # change with every read, not with stock


def _cached(request: Request, svc: Svc, answer: Availability, body: dict[str, Any],
            media_type: str) -> Response:
    stable = {k: v for k, v in body.items() if k not in VOLATILE}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str)
                            .encode()).hexdigest()[:16]
    etag = f'"{answer.freshness.as_of_sequence}-{digest}"'
    headers = {"ETag": etag, "Cache-Control":
               f"public, max-age={int(svc.settings.agent_fresh_seconds)}",
               "Vary": "Authorization"}
    sent = [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]
    if etag in sent or "*" in sent:
        return Response(status_code=304, headers=headers)
    return Response(json.dumps(body, default=str), media_type=media_type, headers=headers)


@router.get("/availability")
def storefront_availability(request: Request, svc: Svc, reader: Reader, sku: Skus,
                            location: str | None = None) -> Response:
    """Available units per SKU, with schema.org availability, `as_of` and
    `as_of_sequence`. Send the ETag back as If-None-Match: 304 while nothing changed."""
    tenant_id, key = reader
    if (limited := _throttled(request, key)) is not None:
        return limited
    answer = read_availability(svc, tenant_id, sku, location=location, channels=False)
    body = {**answer.freshness.as_json(),
            "fresh_threshold_seconds": answer.threshold_seconds,
            "items": storefront_items(answer, svc.settings.agent_limited_stock),
            "unknown": answer.unknown}
    return _cached(request, svc, answer, body, "application/json")


@router.get("/offers", responses={200: {"content": {"application/ld+json": {}}}})
def storefront_offers(request: Request, svc: Svc, reader: Reader, sku: Skus,
                      location: str | None = None) -> Response:
    """JSON-LD schema.org Offers (one object for one SKU, else an @graph) to put in a
    product page for agents that read pages."""
    tenant_id, key = reader
    if (limited := _throttled(request, key)) is not None:
        return limited
    answer = read_availability(svc, tenant_id, sku, location=location, channels=False)
    body = offer_graph(answer, svc.settings.agent_limited_stock)
    return _cached(request, svc, answer, body, "application/ld+json")
