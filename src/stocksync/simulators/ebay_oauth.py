"""eBay's side of the authorization code grant (developer.ebay.com "Getting user consent"
and "Exchanging the authorization code for a User access token"):

    GET  /oauth2/authorize           client_id, redirect_uri (the app's RuName),
                                     response_type=code, scope (space-separated), state,
                                     prompt, locale -> the user consents (the simulator
                                     consents at once) -> 302 <the RuName's accept URL>
                                     ?state=&code=&expires_in=299
    POST /identity/v1/oauth2/token   grant_type=authorization_code, code, redirect_uri
                                     (the same RuName); Basic <client_id:client_secret>
                                     -> access_token, expires_in, refresh_token,
                                     refresh_token_expires_in, token_type
    POST /_sim/oauth/runames         {ru_name, accept_url}: what the developer portal's
                                     "User Tokens" page does (a RuName names an accept URL)

The refresh token is the simulator's (`EbaySimConfig.refresh_token`): the existing
refresh_token grant of the token endpoint then mints user tokens from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from stocksync.simulators.ebay_state import GRANTED_SCOPES, EbaySimConfig, EbaySimState
from stocksync.simulators.oauth_common import CodeBook, GrantIntercept, is_web_url, with_query

TOKEN_PATH = "/identity/v1/oauth2/token"
CODE_TTL_S = 299  # "expires_in": the authorization code lives 299 seconds
REFRESH_TOKEN_TTL_S = 47_304_000  # 18 months


@dataclass
class EbayOAuthApp:
    ru_names: dict[str, str] = field(default_factory=dict)  # RuName -> accept URL
    codes: CodeBook = field(default_factory=lambda: CodeBook(CODE_TTL_S, "v^1.1#i^1#c#"))


class RuNameIn(BaseModel):
    ru_name: str = Field(min_length=1, max_length=255)
    accept_url: str = Field(min_length=8)


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description},
                        status_code=status)


def mount_oauth(app: FastAPI, config: EbaySimConfig) -> None:
    oauth = EbayOAuthApp()
    app.state.oauth = oauth
    sim: EbaySimState = app.state.sim

    @app.post("/_sim/oauth/runames", status_code=201)
    async def register(body: RuNameIn) -> dict[str, str]:
        oauth.ru_names[body.ru_name] = body.accept_url
        return {"ru_name": body.ru_name, "accept_url": body.accept_url}

    @app.get("/oauth2/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != config.client_id:
            return PlainTextResponse("invalid_request: unknown client_id", status_code=400)
        accept_url = oauth.ru_names.get(q.get("redirect_uri") or "")
        if not is_web_url(accept_url) or q.get("response_type") != "code":
            return PlainTextResponse("invalid_request: redirect_uri must be one of the "
                                     "application's RuNames and response_type code",
                                     status_code=400)
        scopes = frozenset((q.get("scope") or "").split())
        if not scopes or not scopes <= GRANTED_SCOPES:
            return PlainTextResponse("invalid_scope: the requested scope is invalid",
                                     status_code=400)
        assert accept_url is not None
        code = oauth.codes.issue({"ru_name": q["redirect_uri"], "scopes": scopes})
        params = {"code": code, "expires_in": str(CODE_TTL_S)}
        if q.get("state") is not None:
            params = {"state": q["state"], **params}
        return RedirectResponse(with_query(accept_url, params), status_code=302)

    async def exchange(request: Request, fields: dict[str, str]) -> Response:
        # The token endpoint's own Basic parsing (imported here: ebay.py mounts this module).
        from stocksync.simulators.ebay import _basic

        if _basic(request.headers.get("Authorization")) != (config.client_id,
                                                             config.client_secret):
            return _error(401, "invalid_client", "client authentication failed")
        grant = oauth.codes.redeem(fields.get("code"))
        if grant is None or grant["ru_name"] != fields.get("redirect_uri"):
            return _error(400, "invalid_grant", "the provided authorization grant code is "
                          "invalid or was issued to another client")
        access, ttl = sim.issue_token("user", grant["scopes"])
        return JSONResponse({"access_token": access, "expires_in": ttl,
                             "refresh_token": config.refresh_token,
                             "refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
                             "token_type": "User Access Token"})

    app.add_middleware(GrantIntercept, path=TOKEN_PATH, grant="authorization_code",
                       handler=exchange)
