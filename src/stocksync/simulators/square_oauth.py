"""Square's side of OAuth (developer.squareup.com OAuth API: Authorize, ObtainToken):

    GET  /oauth2/authorize   client_id, scope (space- or +-separated permissions), state,
                             session=false, redirect_uri (optional: must be the app's
                             redirect URL) -> the seller approves (the simulator approves
                             at once) -> 302 <redirect URL>?code=&response_type=code&state=
    POST /oauth2/token       ObtainToken, JSON: client_id, client_secret, grant_type
                             authorization_code (code, redirect_uri) or refresh_token
                             (refresh_token) -> access_token, token_type "bearer",
                             expires_at, merchant_id, refresh_token, short_lived
    PUT  /_sim/oauth/redirect_url   {url}: the app's redirect URL (Developer Console);
                             unset: the redirect_uri the request names

The access token is the seller's (`SquareSimConfig.access_token`), the one the API checks,
so a refresh returns it again with a new expires_at (Square mints a new one: the
simulator's API knows only one token). Code-flow refresh tokens do not change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from stocksync.simulators.oauth_common import CodeBook, body_fields, is_web_url, with_query
from stocksync.simulators.square_state import SCOPES, SquareSimConfig

APPLICATION_ID = "sq0idp-stocksync-sim"
APPLICATION_SECRET = "sq0csp-stocksync-sim-secret"
TOKEN_DAYS = 30  # OAuth access tokens expire after 30 days
GRANTABLE = frozenset({*SCOPES, "MERCHANT_PROFILE_READ", "ITEMS_WRITE"})


@dataclass
class SquareOAuthApp:
    application_id: str = APPLICATION_ID
    application_secret: str = APPLICATION_SECRET
    redirect_url: str | None = None
    codes: CodeBook = field(default_factory=lambda: CodeBook(300.0, "sq0cgp-"))
    refresh_tokens: set[str] = field(default_factory=set)


class RedirectUrlIn(BaseModel):
    url: str = Field(min_length=8)


def _error(status: int, category: str, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"errors": [{"category": category, "code": code, "detail": detail}]},
                        status_code=status)


def mount_oauth(app: FastAPI, config: SquareSimConfig) -> None:
    oauth = SquareOAuthApp()
    app.state.oauth = oauth

    @app.put("/_sim/oauth/redirect_url")
    async def set_redirect(body: RedirectUrlIn) -> dict[str, str]:
        oauth.redirect_url = body.url
        return {"redirect_url": body.url}

    @app.get("/oauth2/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != oauth.application_id:
            return PlainTextResponse("Invalid client_id", status_code=400)
        redirect = q.get("redirect_uri") or oauth.redirect_url
        if not is_web_url(redirect) or (oauth.redirect_url and redirect != oauth.redirect_url):
            return PlainTextResponse("redirect_uri does not match the application's redirect "
                                     "URL", status_code=400)
        scopes = frozenset((q.get("scope") or "").replace("+", " ").split())
        if not scopes or not scopes <= GRANTABLE:
            return PlainTextResponse("Invalid scope", status_code=400)
        assert redirect is not None
        code = oauth.codes.issue({"redirect_uri": q.get("redirect_uri"), "scopes": scopes})
        params = {"code": code, "response_type": "code"}
        if q.get("state") is not None:
            params["state"] = q["state"]
        return RedirectResponse(with_query(redirect, params), status_code=302)

    @app.post("/oauth2/token")
    async def obtain_token(request: Request) -> JSONResponse:
        fields = body_fields(await request.body(), "application/json")
        if (fields.get("client_id"), fields.get("client_secret")) != (
                oauth.application_id, oauth.application_secret):
            return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED",
                          "Invalid client_id or client_secret")
        grant = fields.get("grant_type")
        if grant == "authorization_code":
            granted = oauth.codes.redeem(fields.get("code"))
            if granted is None or (granted["redirect_uri"] or None) != (
                    fields.get("redirect_uri") or None):
                return _error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST",
                              "Authorization code is invalid, expired or already redeemed")
            refresh = "EQAAE" + secrets.token_urlsafe(32)
            oauth.refresh_tokens.add(refresh)
        elif grant == "refresh_token":
            refresh = fields.get("refresh_token", "")
            if refresh not in oauth.refresh_tokens:
                return _error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED",
                              "Invalid refresh token")
        else:
            return _error(400, "INVALID_REQUEST_ERROR", "BAD_REQUEST",
                          "grant_type must be authorization_code or refresh_token")
        expires = datetime.now(UTC) + timedelta(days=TOKEN_DAYS)
        return JSONResponse({"access_token": config.access_token, "token_type": "bearer",
                             "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "merchant_id": config.merchant_id, "refresh_token": refresh,
                             "short_lived": False})
