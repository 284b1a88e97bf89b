"""eBay: user consent (https://auth.ebay.com/oauth2/authorize with client_id, the app's
RuName as redirect_uri, response_type=code, scope, state) -> authorization code at the
RuName's accept URL -> POST /identity/v1/oauth2/token grant_type=authorization_code
(Basic client_id:client_secret, redirect_uri = the RuName) -> a user access token and the
refresh token the channel keeps (the connector refreshes access tokens from it)."""

from __future__ import annotations

import httpx

from stocksync.channels.ebay_auth import SELL_FULFILLMENT_READONLY_SCOPE, SELL_INVENTORY_SCOPE
from stocksync.config import Settings
from stocksync.connect.flows import (
    AuthorizationRefused,
    Obtained,
    Start,
    declined,
    param,
    require,
    token_request,
    url,
)
from stocksync.core.channels import ChannelKind

SCOPES = ("https://api.ebay.com/oauth/api_scope", SELL_INVENTORY_SCOPE,
          SELL_FULFILLMENT_READONLY_SCOPE)


class EbayFlow:
    kind = ChannelKind.EBAY
    provided_settings: tuple[str, ...] = ()

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        require(settings, "ebay_client_id", "ebay_client_secret", "ebay_ru_name")
        return {}

    def authorize_url(self, settings: Settings, start: Start) -> str:
        assert settings.ebay_client_id and settings.ebay_ru_name
        return url(settings.ebay_auth_url, "/oauth2/authorize", {
            "client_id": settings.ebay_client_id, "redirect_uri": settings.ebay_ru_name,
            "response_type": "code", "scope": " ".join(SCOPES), "state": start.state})

    def state_of(self, params: dict[str, str]) -> str | None:
        return params.get("state")

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        declined(params, "eBay")

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained:
        assert settings.ebay_client_id and settings.ebay_client_secret
        body = await token_request(
            client, "eBay", f"{settings.ebay_api_url.rstrip('/')}/identity/v1/oauth2/token",
            auth=(settings.ebay_client_id, settings.ebay_client_secret),
            data={"grant_type": "authorization_code", "code": param(params, "code", "eBay"),
                  "redirect_uri": settings.ebay_ru_name})
        if not body.get("refresh_token"):
            raise AuthorizationRefused("eBay answered without a refresh token")
        return Obtained({"client_id": settings.ebay_client_id,
                         "client_secret": settings.ebay_client_secret,
                         "refresh_token": str(body["refresh_token"])},
                        {"api_url": settings.ebay_api_url})
