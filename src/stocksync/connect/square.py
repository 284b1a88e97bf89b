"""Square: OAuth Authorize (/oauth2/authorize with client_id, scope, session=false, state,
redirect_uri) -> code -> ObtainToken (POST /oauth2/token, grant_type=authorization_code)
-> access token (30 days) and refresh token; `refresh` runs ObtainToken with
grant_type=refresh_token for a new access token."""

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

SCOPES = ("ITEMS_READ", "INVENTORY_READ", "INVENTORY_WRITE", "ORDERS_READ",
          "MERCHANT_PROFILE_READ")
PRODUCTION = "https://connect.squareup.com"


class SquareFlow:
    kind = ChannelKind.SQUARE
    provided_settings: tuple[str, ...] = ()

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        require(settings, "square_application_id", "square_application_secret")
        return {}

    def authorize_url(self, settings: Settings, start: Start) -> str:
        assert settings.square_application_id is not None
        return url(settings.square_base_url, "/oauth2/authorize", {
            "client_id": settings.square_application_id, "scope": " ".join(SCOPES),
            "session": "false", "state": start.state, "redirect_uri": start.callback_url})

    def state_of(self, params: dict[str, str]) -> str | None:
        return params.get("state")

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        declined(params, "Square")

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained:
        body = await obtain_token(settings, client, {
            "grant_type": "authorization_code", "code": param(params, "code", "Square"),
            "redirect_uri": start.callback_url})
        base = settings.square_base_url.rstrip("/")
        return Obtained(_credentials(body), {"merchant_id": str(body.get("merchant_id", "")),
                                             **({"base_url": base} if base != PRODUCTION
                                                else {})})


async def obtain_token(settings: Settings, client: httpx.AsyncClient,
                       grant: dict[str, str]) -> dict[str, object]:
    body = await token_request(
        client, "Square", f"{settings.square_base_url.rstrip('/')}/oauth2/token",
        json={"client_id": settings.square_application_id,
              "client_secret": settings.square_application_secret, **grant})
    if not body.get("access_token") or not body.get("refresh_token"):
        raise AuthorizationRefused("Square answered ObtainToken without tokens")
    return body


async def refresh(settings: Settings, client: httpx.AsyncClient,
                  credentials: dict[str, str]) -> dict[str, str]:
    """New credentials from the stored refresh token (ObtainToken, refresh_token grant)."""
    require(settings, "square_application_id", "square_application_secret")
    if not credentials.get("refresh_token"):
        raise AuthorizationRefused("this Square channel has no refresh token (it was not "
                                   "connected by OAuth)")
    body = await obtain_token(settings, client, {"grant_type": "refresh_token",
                                                 "refresh_token": credentials["refresh_token"]})
    return {**credentials, **_credentials(body)}


def _credentials(body: dict[str, object]) -> dict[str, str]:
    return {"access_token": str(body["access_token"]),
            "refresh_token": str(body["refresh_token"]),
            "expires_at": str(body.get("expires_at", ""))}
