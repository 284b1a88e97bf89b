"""Amazon: SP-API website authorization workflow. The seller goes to Seller Central's
/apps/authorize/consent (application_id, state, redirect_uri; version=beta while the app
is a draft), Amazon sends them back with state, selling_partner_id and spapi_oauth_code,
and the code (valid five minutes) is exchanged with Login with Amazon
(grant_type=authorization_code) for the refresh token the channel keeps."""

from __future__ import annotations

import httpx

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

US_MARKETPLACE = "ATVPDKIKX0DER"


class AmazonFlow:
    kind = ChannelKind.AMAZON
    provided_settings = ("endpoint", "seller_id", "marketplace_id")

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        require(settings, "amazon_application_id", "amazon_lwa_client_id",
                "amazon_lwa_client_secret")
        return {}

    def authorize_url(self, settings: Settings, start: Start) -> str:
        assert settings.amazon_application_id is not None
        query = {"application_id": settings.amazon_application_id, "state": start.state,
                 "redirect_uri": start.callback_url}
        if settings.amazon_draft_app:
            query["version"] = "beta"
        return url(settings.amazon_seller_central_url, "/apps/authorize/consent", query)

    def state_of(self, params: dict[str, str]) -> str | None:
        return params.get("state")

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        declined(params, "Amazon")

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained:
        seller = param(params, "selling_partner_id", "Amazon")
        body = await token_request(client, "Amazon", settings.amazon_lwa_token_url, data={
            "grant_type": "authorization_code",
            "code": param(params, "spapi_oauth_code", "Amazon"),
            "redirect_uri": start.callback_url,
            "client_id": settings.amazon_lwa_client_id,
            "client_secret": settings.amazon_lwa_client_secret})
        if not body.get("refresh_token"):
            raise AuthorizationRefused("Login with Amazon answered without a refresh token")
        assert settings.amazon_lwa_client_id and settings.amazon_lwa_client_secret
        chosen = start.request.get("settings", {})
        return Obtained(
            {"lwa_client_id": settings.amazon_lwa_client_id,
             "lwa_client_secret": settings.amazon_lwa_client_secret,
             "refresh_token": str(body["refresh_token"])},
            {"endpoint": settings.amazon_endpoint, "seller_id": seller,
             "marketplace_id": chosen.get("marketplace_id") or US_MARKETPLACE,
             "token_url": settings.amazon_lwa_token_url})
