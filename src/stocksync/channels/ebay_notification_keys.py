"""eBay's Notification API public keys: what verifies X-EBAY-SIGNATURE on a notification.

`GET /commerce/notification/v1/public_key/{public_key_id}` with an *application* access
token (client-credentials grant, scope `https://api.ebay.com/oauth/api_scope`) answers
`{"key": "-----BEGIN PUBLIC KEY-----…", "algorithm": "ECDSA", "digest": "SHA1"}`.
eBay's SDKs cache a key by its id; client-credentials grants are limited to 1,000 per
app per day, so the app token is kept for its lifetime. The keys end up in the channel's
`notification_keys` credential (ingest/ebay.py reads them there).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable

import httpx

from stocksync.channels.base import Rejected, Unavailable
from stocksync.channels.ebay_auth import TOKEN_PATH, JsonObject, json_body

PUBLIC_KEY_PATH = "/commerce/notification/v1/public_key"
APP_SCOPE = "https://api.ebay.com/oauth/api_scope"
TOKEN_MARGIN_S = 300.0


class NotificationKeys:
    """Fetches (and remembers) eBay's notification public keys by key id."""

    def __init__(self, client: httpx.AsyncClient, api_url: str, client_id: str,
                 client_secret: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._clock = clock
        self._token: str | None = None
        self._token_until = 0.0
        self.keys: dict[str, JsonObject] = {}

    async def key(self, kid: str) -> JsonObject:
        """{"key": PEM, "algorithm": "ECDSA", "digest": "SHA1"} for key id `kid`."""
        if kid not in self.keys:
            response = await self._get(f"{PUBLIC_KEY_PATH}/{kid}")
            body = json_body(response)
            if not isinstance(body.get("key"), str):
                raise Unavailable("eBay public key response without key")
            self.keys[kid] = {"key": body["key"], "algorithm": body.get("algorithm"),
                              "digest": body.get("digest")}
        return self.keys[kid]

    async def credential(self, kids: Iterable[str]) -> str:
        """The `notification_keys` credential value holding these keys (JSON)."""
        return json.dumps({kid: await self.key(kid) for kid in kids}, sort_keys=True)

    async def _get(self, path: str) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._app_token()
            try:
                response = await self.client.get(f"{self.api_url}{path}", headers={
                    "Authorization": f"Bearer {token}", "Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise Unavailable(f"eBay unreachable: {exc!r}") from exc
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.is_success:
                return response
            if response.status_code == 404:
                raise Rejected("eBay knows no notification public key with that id",
                               response.text[:500])
            if response.status_code >= 500 or response.status_code == 429:
                raise Unavailable(f"eBay answered {response.status_code}")
            raise Rejected(f"eBay answered {response.status_code}", response.text[:500])
        raise AssertionError("unreachable")

    async def _app_token(self) -> str:
        if self._token is not None and self._clock() < self._token_until:
            return self._token
        sent_at = self._clock()
        try:
            response = await self.client.post(
                f"{self.api_url}{TOKEN_PATH}",
                data={"grant_type": "client_credentials", "scope": APP_SCOPE},
                headers={"Authorization": f"Basic {self._basic}"})
        except httpx.HTTPError as exc:
            raise Unavailable(f"eBay token endpoint unreachable: {exc!r}") from exc
        if not response.is_success:
            raise Rejected(f"eBay refused an application token ({response.status_code})",
                           response.text[:500])
        body = json_body(response)
        self._token = str(body["access_token"])
        self._token_until = sent_at + max(0.0, float(body["expires_in"]) - TOKEN_MARGIN_S)
        return self._token
