"""Calling the Selling Partner API: Login-with-Amazon tokens, per-operation pacing, and the one
place where SP-API HTTP failures become ChannelErrors. Wire format: amazon.md in the channels
docs (/work/shared/channels/amazon.md), cited below as "amazon.md §N".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from stocksync.channels.base import RateLimited, Rejected, Unavailable
from stocksync.channels.pacing import Pacer

JsonObject = dict[str, Any]  # JSON at the wire boundary

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
TOKEN_HEADER = "x-amz-access-token"
RATE_HEADER = "x-amzn-RateLimit-Limit"
# Refresh this long before the token's end (1 h tokens: 60 s; short test tokens: a tenth).
REFRESH_MARGIN_S = 60.0
REFRESH_MARGIN_SHARE = 0.1
# The local bucket keeps one token in reserve: the server counts tokens when a request
# ARRIVES, we when it leaves, so two requests sent 1/rate apart may arrive closer together.
# One spare token absorbs up to 1/rate seconds of network jitter.
RESERVE_TOKENS = 1.0
WAIT_MARGIN_S = 0.01  # timer granularity
STARTUP_WAIT_S = 1.0  # see AmazonPacer


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # tokens (requests) restored per second
    burst: float  # bucket size


# Default usage plans (amazon.md §2.2, §4; Orders API v0 below). Amazon may give a seller
# other rates (dynamic usage plans, §3): `x-amzn-RateLimit-Limit` on responses corrects the
# rate, never the burst.
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "getListingsItem": RateLimit(5.0, 10.0),
    "patchListingsItem": RateLimit(5.0, 5.0),
    "putListingsItem": RateLimit(5.0, 10.0),
    "createFeedDocument": RateLimit(0.5, 15.0),
    "createFeed": RateLimit(0.0083, 15.0),
    "getFeed": RateLimit(2.0, 15.0),
    "getFeedDocument": RateLimit(0.0222, 10.0),
    "cancelFeed": RateLimit(2.0, 15.0),
    # Orders API v0 usage plans (models/orders-api-model/ordersV0.json, getOrders,
    # getOrder, getOrderItems): one getOrders a minute sustained, a burst of 20.
    "getOrders": RateLimit(0.0167, 20.0),
    "getOrder": RateLimit(0.5, 30.0),
    "getOrderItems": RateLimit(0.5, 30.0),
}
FALLBACK_RATE_LIMIT = RateLimit(1.0, 1.0)


class RequestRefused(Rejected):
    """Amazon refused this one request (400, 404, 413, 415): for a one-SKU call, that SKU."""

    def __init__(self, message: str, status: int, errors: list[JsonObject]) -> None:
        super().__init__(message, errors)
        self.status = status
        self.errors = errors


class AmazonPacer(Pacer):
    """A local copy of one operation's token bucket, so calls wait instead of getting 429s.

    The bucket is per seller and application, not per process: a connector built a moment
    after another one stopped (a restart, a rebuilt worker) may find it spent down to the
    reserve. So a fast operation (patch, get: 5/s) starts empty, costing at most
    STARTUP_WAIT_S. A slow one (createFeed: one token per 2 minutes) starts full: it is used
    once or twice per 20-minute feed cycle, so no predecessor can have emptied its burst."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        capacity = max(1.0, limit.burst - RESERVE_TOKENS)
        super().__init__(limit.rate, capacity, clock=clock,
                         tokens=0.0 if 1.0 / limit.rate <= STARTUP_WAIT_S else capacity)
        self.limit = limit
        self.lock = asyncio.Lock()

    def wait_for_token(self) -> float:
        self.refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate + WAIT_MARGIN_S

    def spend(self) -> None:
        self.refill()
        self.tokens -= 1.0

    def observe_rate(self, header: str | None) -> None:
        try:
            rate = float(header) if header is not None else 0.0
        except ValueError:
            return
        if rate > 0 and rate != self.rate:
            self.refill()
            self.rate = rate
            # The header tells the rate, never the burst. Below the documented rate, assume
            # the burst shrank in proportion; above it, keep the documented burst.
            scale = min(1.0, rate / self.limit.rate)
            self.capacity = max(1.0, self.limit.burst * scale - RESERVE_TOKENS)
            self.tokens = min(self.tokens, self.capacity)

    def throttled(self) -> None:
        """A 429 says the server's bucket is empty, whatever we thought."""
        self.refill()
        self.tokens = min(self.tokens, 0.0)

    def retry_after(self) -> float:
        return self.wait_for_token()


class LwaTokens:
    """Login-with-Amazon access tokens from a refresh token (amazon.md §1)."""

    def __init__(self, client: httpx.AsyncClient, token_url: str, client_id: str,
                 client_secret: str, refresh_token: str, clock: Callable[[], float]) -> None:
        self.client = client
        self.token_url = token_url
        self._form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                      "client_id": client_id, "client_secret": client_secret}
        self.clock = clock
        self.access_token: str | None = None
        self.refresh_at = 0.0
        self.refreshes = 0  # how many tokens were fetched (observable in tests and logs)
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self.access_token is None or self.clock() >= self.refresh_at:
                await self._refresh()
            assert self.access_token is not None
            return self.access_token

    def invalidate(self, token: str) -> None:
        """The API refused `token`; fetch a new one next time (unless one already was)."""
        if self.access_token == token:
            self.access_token = None

    async def _refresh(self) -> None:
        try:  # form-encoded, as Amazon's docs show (amazon.md §1)
            response = await self.client.post(self.token_url, data=self._form)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Login with Amazon unreachable: {exc!r}") from exc
        status = response.status_code
        if status == 429:
            raise RateLimited("Login with Amazon answered 429", 1.0)
        if status >= 500:
            raise Unavailable(f"Login with Amazon answered {status}")
        body = _json_object(response)
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not response.is_success or not isinstance(token, str):
            # invalid_client / invalid_grant: wrong or revoked credentials, never retried.
            raise Rejected(f"Login with Amazon refused the credentials ({status}): "
                           f"{body.get('error')}", body)
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        self.access_token = token
        self.refresh_at = self.clock() + seconds - min(REFRESH_MARGIN_S,
                                                       seconds * REFRESH_MARGIN_SHARE)
        self.refreshes += 1


class SpApi:
    """Authenticated, paced calls to one SP-API endpoint."""

    def __init__(self, client: httpx.AsyncClient, endpoint: str, tokens: LwaTokens, *,
                 rate_limits: Mapping[str, RateLimit] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.endpoint = endpoint.rstrip("/")
        self.tokens = tokens
        self._limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self._pacers: dict[str, AmazonPacer] = {}
        self._sleep = sleep
        self._clock = clock

    def pacer(self, operation: str) -> AmazonPacer:
        if operation not in self._pacers:
            limit = self._limits.get(operation, FALLBACK_RATE_LIMIT)
            self._pacers[operation] = AmazonPacer(limit, self._clock)
        return self._pacers[operation]

    async def call(self, operation: str, method: str, path: str, *,
                   params: Mapping[str, str] | None = None,
                   body: JsonObject | None = None) -> JsonObject:
        """One SP-API operation. A 401/403 "Unauthorized" is retried once with a fresh token
        (the token may have been revoked or expired early); a second one is Rejected."""
        pacer = self.pacer(operation)
        for attempt in range(2):
            token = await self.tokens.token()
            await self._take(pacer)
            response = await self._send(method, f"{self.endpoint}{path}", params=params,
                                        json=body, headers={TOKEN_HEADER: token})
            pacer.observe_rate(response.headers.get(RATE_HEADER))
            if attempt == 0 and response.status_code in (401, 403) and _unauthorized(response):
                self.tokens.invalidate(token)
                continue
            raise_for_status(response, operation, pacer)
            return _json_object(response) if response.content else {}
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def transfer(self, method: str, url: str, *, content: bytes | None = None,
                       headers: Mapping[str, str] | None = None) -> bytes:
        """Upload to / download from a pre-signed document URL (S3 in production): no access
        token goes there, and it is not an SP-API operation, so no SP-API rate limit."""
        response = await self._send(method, url, content=content, headers=dict(headers or {}))
        raise_for_status(response, "feed document transfer", None)
        return response.content

    async def _take(self, pacer: AmazonPacer) -> None:
        async with pacer.lock:  # one waiter at a time keeps the spend order fair
            while (wait := pacer.wait_for_token()) > 0:
                await self._sleep(wait)
            pacer.spend()

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"Amazon timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"Amazon unreachable: {exc!r}") from exc


def raise_for_status(response: httpx.Response, operation: str,
                     pacer: AmazonPacer | None) -> None:
    """The one place where an SP-API answer becomes a ChannelError (amazon.md §2.1, §3)."""
    status = response.status_code
    if response.is_success:
        return
    errors = _errors(response)
    summary = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or status
    if status in (401, 403):
        raise Rejected(f"Amazon refused {operation} ({status}): {summary}", errors)
    if status == 429:
        # No Retry-After on SP-API 429s (§3): wait until our bucket, now drained, has a token.
        retry_after = 1.0
        if pacer is not None:
            pacer.throttled()
            retry_after = pacer.retry_after()
        raise RateLimited(f"Amazon throttled {operation}: {summary}", retry_after)
    if status >= 500:
        raise Unavailable(f"Amazon answered {status} to {operation}: {summary}")
    raise RequestRefused(f"Amazon refused {operation} ({status}): {summary}", status, errors)


def _unauthorized(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    return any(e.get("code") == "Unauthorized" for e in _errors(response))


def _errors(response: httpx.Response) -> list[JsonObject]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _json_object(response: httpx.Response) -> JsonObject:
    try:
        body = response.json()
    except ValueError as exc:
        if response.is_success:
            raise Unavailable(f"Amazon answered non-JSON ({response.status_code})") from exc
        return {}
    if not isinstance(body, dict):
        raise Unavailable("Amazon answered JSON that is not an object")
    return body
