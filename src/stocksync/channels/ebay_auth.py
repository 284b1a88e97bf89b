"""The eBay connector's session: the OAuth user access token, call pacing within eBay's call
quota, and the one place where eBay's HTTP failures become ChannelErrors.

Wire format: ebay.md in the channel notes (/work/shared/channels/ebay.md), cited as
"ebay.md §N". Tokens (§1): `POST /identity/v1/oauth2/token` with
`grant_type=refresh_token`, HTTP Basic `client_id:client_secret`; the user access token
lives `expires_in` seconds (~2 h). Limits (§5): a daily call quota per application, no
per-second limit and no rate headers documented, so the session paces itself from the
configured quota instead of waiting for 429s.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from stocksync.channels.base import RateLimited, Rejected, Unavailable
from stocksync.channels.http_errors import json_object, retry_after
from stocksync.channels.pacing import Pacer

JsonObject = dict[str, Any]  # JSON at the wire boundary

TOKEN_PATH = "/identity/v1/oauth2/token"
SELL_INVENTORY_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"
# getOrders needs sell.fulfillment or sell.fulfillment.readonly (Fulfillment API scopes);
# stocksync only reads orders, so it asks for the read-only one. The merchant's consent
# (the refresh token) must include it.
SELL_FULFILLMENT_READONLY_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly"
# Refresh this long before the token expires: a tenth of its life, at most 5 minutes.
REFRESH_MARGIN_SHARE = 0.1
MAX_REFRESH_MARGIN_S = 300.0
# The Inventory API's default quota is commonly cited as 2,000,000 calls/day (ebay.md §5,
# unconfirmed); it is per application, so several channels on one app must split it.
DEFAULT_CALL_LIMIT = 2_000_000
DEFAULT_CALL_WINDOW_S = 86_400.0
BURST_SHARE = 0.01  # of the quota that may go out back to back (of a daily quota: ~14 min)
# eBay counts a call when it arrives; we count it when we send it. A window boundary
# between the two could put more calls in one of eBay's windows than we counted.
WINDOW_MARGIN_SHARE = 0.1
MAX_WINDOW_MARGIN_S = 5.0
DEFAULT_RETRY_AFTER_S = 60.0  # 429 without Retry-After: eBay documents no value (§5)


class BadRequest(Rejected):
    """HTTP 400: eBay refused the request as a whole; `errors` are eBay's error objects."""

    def __init__(self, message: str, errors: list[JsonObject]) -> None:
        super().__init__(message, errors)
        self.errors = errors


class EbayPacer(Pacer):
    """A token bucket that keeps every span of `window_s` within `limit` calls.

    With capacity C and refill rate r, any interval of length L holds at most C + r*L
    calls; r = (limit - 2C) / (window + margin) keeps that under `limit` for a window that
    also catches calls sent `margin` seconds before it, with room for one more burst: the
    bucket starts full, and a restarted process may burst in its predecessor's window."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if limit < 3:
            raise ValueError("the call quota must allow at least 3 calls per window")
        margin = min(MAX_WINDOW_MARGIN_S, window_s * WINDOW_MARGIN_SHARE)
        capacity = max(1.0, float(int(limit * BURST_SHARE)))
        super().__init__((limit - 2 * capacity) / (window_s + margin), capacity,
                         clock=clock, sleep=sleep)
        self.limit = limit
        self.window_s = window_s


class EbaySession:
    """Authorised, paced calls to one eBay API host (production, sandbox or simulator)."""

    def __init__(self, client: httpx.AsyncClient, api_url: str, client_id: str,
                 client_secret: str, refresh_token: str, *,
                 scopes: Sequence[str] = (SELL_INVENTORY_SCOPE,),
                 call_limit: int = DEFAULT_CALL_LIMIT,
                 call_window_s: float = DEFAULT_CALL_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.pacer = EbayPacer(call_limit, call_window_s, clock, sleep)
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._refresh_token = refresh_token
        self._scopes = " ".join(scopes)
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._token_lock = asyncio.Lock()

    async def call(self, method: str, path: str, *, params: dict[str, str | int] | None = None,
                   json: JsonObject | None = None, missing_ok: bool = False
                   ) -> httpx.Response | None:
        """Send one API call; a 2xx response (207 included), None for a 404 when
        `missing_ok`, else a ChannelError. A 401/403 refreshes the token and retries once:
        eBay answers an expired token with 401 (1001) and, reportedly, sometimes with 403
        (1100 "Access denied") on inventory_item."""
        for attempt in (1, 2):
            await self.pacer.take()
            token = await self._access_token()  # after the wait: it may have expired
            response = await self._send(method, path, token, params, json)
            if response.status_code in (401, 403) and attempt == 1:
                await self._refresh(stale=token)
                continue
            return raise_for_status(response, missing_ok)
        raise AssertionError("unreachable")

    async def _send(self, method: str, path: str, token: str,
                    params: dict[str, str | int] | None, json: JsonObject | None
                    ) -> httpx.Response:
        try:
            return await self.client.request(
                method, f"{self.api_url}{path}", params=params, json=json,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        except httpx.TimeoutException as exc:
            raise Unavailable(f"eBay timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"eBay unreachable: {exc!r}") from exc

    # -- OAuth -----------------------------------------------------------------------------
    async def _access_token(self) -> str:
        if self._token is None or self._clock() >= self._refresh_at:
            await self._refresh(stale=self._token)
        assert self._token is not None
        return self._token

    async def _refresh(self, stale: str | None) -> None:
        async with self._token_lock:
            if self._token != stale and self._clock() < self._refresh_at:
                return  # another call refreshed it while this one waited for the lock
            sent_at = self._clock()
            try:
                response = await self.client.post(
                    f"{self.api_url}{TOKEN_PATH}",
                    data={"grant_type": "refresh_token", "refresh_token": self._refresh_token,
                          "scope": self._scopes},
                    headers={"Authorization": f"Basic {self._basic}"})
            except httpx.HTTPError as exc:
                raise Unavailable(f"eBay token endpoint unreachable: {exc!r}") from exc
            if response.status_code in (400, 401):  # invalid_grant, invalid_client, ...
                raise Rejected("eBay refused the refresh token or app credentials "
                               f"({response.status_code})", _text(response))
            raise_for_status(response, missing_ok=False)
            body = json_body(response)
            try:
                token, lifetime = str(body["access_token"]), float(body["expires_in"])
            except (KeyError, TypeError, ValueError) as exc:
                raise Unavailable("eBay token response without access_token/expires_in"
                                  ) from exc
            self._token = token
            # Timed from when we asked, so our clock never runs behind eBay's.
            margin = min(MAX_REFRESH_MARGIN_S, lifetime * REFRESH_MARGIN_SHARE)
            self._refresh_at = sent_at + lifetime - margin


def raise_for_status(response: httpx.Response, missing_ok: bool) -> httpx.Response | None:
    """The one place where eBay HTTP failures become ChannelErrors."""
    status = response.status_code
    if response.is_success:
        return response
    if status == 404 and missing_ok:
        return None
    if status in (401, 403):
        raise Rejected(f"eBay refused the access token ({status})", _text(response))
    if status == 429:
        raise RateLimited("eBay call limit reached (429)",
                          retry_after(response, DEFAULT_RETRY_AFTER_S))
    if status >= 500:
        raise Unavailable(f"eBay answered {status}")
    if status == 400:
        errors = _errors(response)
        raise BadRequest(f"eBay refused the request: {error_summary(errors)}", errors)
    raise Rejected(f"eBay answered {status}", _text(response))


def json_body(response: httpx.Response) -> JsonObject:
    return json_object(response, "eBay")


def error_summary(errors: list[JsonObject]) -> str:
    return "; ".join(f"{e.get('errorId')}: {e.get('message')}" for e in errors) or "no details"


def _errors(response: httpx.Response) -> list[JsonObject]:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _text(response: httpx.Response) -> str:
    return response.text[:500]

