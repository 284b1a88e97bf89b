"""Shopify: OAuth authorization code grant (shopify.dev, "Implement authorization code
grant manually"). Install URL https://{shop}/admin/oauth/authorize with client_id, scope,
redirect_uri and state; the callback's `hmac` (HMAC-SHA256 with the client secret over the
other parameters, sorted, `k=v` joined by `&`) and `shop` (a *.myshopify.com hostname, the
one the flow was started for) are checked before the code is exchanged at
/admin/oauth/access_token for an offline access token."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

import httpx

from stocksync.config import Settings
from stocksync.connect.flows import (
    AuthorizationRefused,
    ConnectRefused,
    Obtained,
    SignatureRefused,
    Start,
    declined,
    param,
    require,
    token_request,
    url,
)
from stocksync.core.channels import ChannelKind
from stocksync.core.errors import InvalidInput

# shopify.dev: the shop parameter must be a valid shop hostname ending with myshopify.com.
SHOP_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")
NEEDED_SCOPE = "write_inventory"  # without it no push can succeed
# A callback older than this is refused whatever its state: a leaked callback URL is not
# good for long (the state nonce expires sooner still; this bounds clock skew too).
TIMESTAMP_SECONDS = 3600


def query_hmac(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{name}={value}" for name, value in sorted(params.items())
                       if name != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def shop_hostname(raw: str) -> str:
    """`acme` or `acme.myshopify.com` (what merchants type) -> acme.myshopify.com."""
    shop = raw.strip().lower()
    return shop if "." in shop else f"{shop}.myshopify.com"


class ShopifyFlow:
    kind = ChannelKind.SHOPIFY
    provided_settings = ("shop_url",)

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        require(settings, "shopify_client_id", "shopify_client_secret")
        shop = shop_hostname(params.get("shop", ""))
        if not SHOP_PATTERN.match(shop):
            raise InvalidInput("shop must be the store's myshopify.com hostname (e.g. "
                               "acme.myshopify.com)", field="shop")
        return {"shop": shop}

    def authorize_url(self, settings: Settings, start: Start) -> str:
        assert settings.shopify_client_id is not None
        return url(_admin(settings, start.request["shop"]), "/admin/oauth/authorize", {
            "client_id": settings.shopify_client_id, "scope": settings.shopify_scopes,
            "redirect_uri": start.callback_url, "state": start.state})

    def state_of(self, params: dict[str, str]) -> str | None:
        return params.get("state")

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        assert settings.shopify_client_secret is not None
        declined(params, "Shopify")
        given = params.get("hmac", "")
        if not hmac.compare_digest(given.encode(),
                                   query_hmac(params, settings.shopify_client_secret).encode()):
            raise SignatureRefused("the callback's hmac does not match: it was not sent by "
                                   "Shopify (or not for this app)", field="hmac")
        if not SHOP_PATTERN.match(params.get("shop", "")):
            raise ConnectRefused("shop is not a myshopify.com hostname", field="shop",
                                 shop=params.get("shop"))
        stamp = params.get("timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > TIMESTAMP_SECONDS:
            raise ConnectRefused("the callback's timestamp is missing or too old",
                                 field="timestamp")

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained:
        shop = params["shop"]
        if shop != start.request["shop"]:
            raise ConnectRefused(f"the callback is for {shop}, the connection was started "
                                 f"for {start.request['shop']}", field="shop")
        admin = _admin(settings, shop)
        body = await token_request(client, "Shopify", f"{admin}/admin/oauth/access_token",
                                   json={"client_id": settings.shopify_client_id,
                                         "client_secret": settings.shopify_client_secret,
                                         "code": param(params, "code", "Shopify")})
        token = body.get("access_token")
        granted = str(body.get("scope", "")).split(",")
        if not token or NEEDED_SCOPE not in granted:
            raise AuthorizationRefused(f"Shopify granted no access token with "
                                       f"{NEEDED_SCOPE}", granted=granted)
        return Obtained({"access_token": str(token)}, {"shop_url": admin})


def _admin(settings: Settings, shop: str) -> str:
    """The shop's admin base URL: https://{shop}, or the configured one (a simulator)."""
    return (settings.shopify_admin_url or f"https://{shop}").rstrip("/")
