"""WooCommerce: the application authentication endpoint. The merchant goes to
{store}/wc-auth/v1/authorize (app_name, scope=read_write, user_id, return_url,
callback_url); on approval the store POSTs {key_id, user_id, consumer_key,
consumer_secret, key_permissions} as JSON to callback_url and sends the browser to
return_url. Our state nonce travels as `user_id` (Woo echoes it in the POST)."""

from __future__ import annotations

import httpx

from stocksync.config import Settings
from stocksync.connect.flows import AuthorizationRefused, Obtained, Start, param, url
from stocksync.core.channels import ChannelKind
from stocksync.core.errors import InvalidInput

SCOPE = "read_write"  # pushes write stock; orders are read


class WooCommerceFlow:
    kind = ChannelKind.WOOCOMMERCE
    provided_settings: tuple[str, ...] = ()

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        store = params.get("store_url", "")
        if not store.startswith(("https://", "http://")):
            raise InvalidInput("store_url must be the store's address (https://…)",
                               field="store_url")
        return {"store_url": store.rstrip("/")}

    def authorize_url(self, settings: Settings, start: Start) -> str:
        return url(start.request["store_url"], "/wc-auth/v1/authorize", {
            "app_name": settings.woocommerce_app_name, "scope": SCOPE,
            "user_id": start.state, "return_url": start.return_url,
            "callback_url": start.callback_url})

    def state_of(self, params: dict[str, str]) -> str | None:
        return params.get("user_id")

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        return None  # the POST carries no signature: the single-use nonce is the proof

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained:
        if params.get("key_permissions") != SCOPE:
            raise AuthorizationRefused(f"WooCommerce keys with {SCOPE} are needed, got "
                                       f"{params.get('key_permissions')!r}")
        return Obtained({"consumer_key": param(params, "consumer_key", "WooCommerce"),
                         "consumer_secret": param(params, "consumer_secret", "WooCommerce")},
                        {"store_url": start.request["store_url"]})
