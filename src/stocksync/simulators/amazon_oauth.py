"""Amazon's side of the SP-API website authorization workflow (developer-docs.amazon.com
"Website Authorization Workflow") and of the LWA authorization_code grant:

    GET  /apps/authorize/consent     application_id, state, version=beta (required while
                                     the app is in draft), redirect_uri (optional: one of
                                     the app's OAuth redirect URIs; default the first)
                                     -> the selling partner signs in and consents (the
                                     simulator consents at once) -> 302 redirect_uri
                                     ?state=&selling_partner_id=&spapi_oauth_code=
    POST /auth/o2/token              grant_type=authorization_code, code, client_id,
                                     client_secret, redirect_uri -> access_token,
                                     refresh_token, token_type, expires_in
    POST /_sim/oauth/redirect_uris   {url}: register an OAuth redirect URI (Solution
                                     Provider Portal); none registered: any http(s) URL

spapi_oauth_code lives five minutes and works once. The refresh token is the simulator's
(`AmazonSimConfig.refresh_token`), so the existing refresh_token grant accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from stocksync.simulators.amazon_state import AmazonSimConfig, AmazonSimState
from stocksync.simulators.oauth_common import CodeBook, GrantIntercept, is_web_url, with_query

APPLICATION_ID = "amzn1.sp.solution.stocksync-sim"
CODE_TTL_S = 300.0


@dataclass
class AmazonOAuthApp:
    application_id: str = APPLICATION_ID
    draft: bool = True  # a draft app is authorised only with version=beta
    redirect_uris: list[str] = field(default_factory=list)
    codes: CodeBook = field(default_factory=lambda: CodeBook(CODE_TTL_S, "ANDM"))


class RedirectUriIn(BaseModel):
    url: str = Field(min_length=8)


def mount_oauth(app: FastAPI, config: AmazonSimConfig) -> None:
    oauth = AmazonOAuthApp()
    app.state.oauth = oauth
    sim: AmazonSimState = app.state.sim

    @app.post("/_sim/oauth/redirect_uris", status_code=201)
    async def register(body: RedirectUriIn) -> dict[str, list[str]]:
        oauth.redirect_uris.append(body.url)
        return {"redirect_uris": oauth.redirect_uris}

    @app.get("/apps/authorize/consent", response_model=None)
    async def consent(request: Request) -> Response:
        q = request.query_params
        if q.get("application_id") != oauth.application_id:
            return PlainTextResponse("We could not find the application you are trying to "
                                     "authorize", status_code=400)
        if oauth.draft and q.get("version") != "beta":
            return PlainTextResponse("This application is in draft status: add "
                                     "version=beta to authorize it", status_code=400)
        redirect = q.get("redirect_uri") or (oauth.redirect_uris or [""])[0]
        if not is_web_url(redirect) or (oauth.redirect_uris
                                        and redirect not in oauth.redirect_uris):
            return PlainTextResponse("The redirect_uri is not one of the application's "
                                     "OAuth redirect URIs", status_code=400)
        code = oauth.codes.issue({"redirect_uri": redirect})
        params = {"state": q.get("state") or "", "selling_partner_id": config.seller_id,
                  "spapi_oauth_code": code}
        return RedirectResponse(with_query(redirect, params), status_code=302)

    async def exchange(request: Request, fields: dict[str, str]) -> Response:
        if (fields.get("client_id"), fields.get("client_secret")) != (
                config.lwa_client_id, config.lwa_client_secret):
            return JSONResponse({"error": "invalid_client",
                                 "error_description": "Client authentication failed"},
                                status_code=401)
        grant = oauth.codes.redeem(fields.get("code"))
        if grant is None or fields.get("redirect_uri", grant["redirect_uri"]) != \
                grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant", "error_description":
                                 "The request has an invalid grant parameter : code"},
                                status_code=400)
        access_token, lifetime = sim.issue_token()
        return JSONResponse({"access_token": access_token, "refresh_token":
                             config.refresh_token, "token_type": "bearer",
                             "expires_in": lifetime})

    app.add_middleware(GrantIntercept, path="/auth/o2/token", grant="authorization_code",
                       handler=exchange)
