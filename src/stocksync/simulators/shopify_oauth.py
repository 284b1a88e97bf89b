"""Shopify's side of the OAuth authorization code grant (a non-embedded app installed
with an install link), as shopify.dev "Implement authorization code grant manually":

    GET  /admin/oauth/authorize      client_id, scope (comma-separated), redirect_uri, state,
                                     grant_options[] -> the merchant approves (the
                                     simulator approves at once) -> 302 redirect_uri?code=
                                     &hmac=&host=&shop=&state=&timestamp=
    POST /admin/oauth/access_token   client_id, client_secret, code (form or JSON)
                                     -> {"access_token", "scope"}; a code works once
    GET  /_sim/oauth                 the app's client id, codes issued and redeemed

`hmac` is Shopify's: HMAC-SHA256 (hex) with the app's client secret over the other query
parameters sorted by name and joined as `name=value` with `&`. The access token is the
store's (`ShopifySimConfig.access_token`), so the API accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from stocksync.simulators.oauth_common import CodeBook, body_fields, is_web_url, with_query
from stocksync.simulators.shopify_state import ShopifySimConfig

CLIENT_ID = "stocksync-sim-shopify-client"
CLIENT_SECRET = "stocksync-sim-shopify-secret"
SCOPES = frozenset({"read_inventory", "write_inventory", "read_products", "write_products",
                    "read_orders", "read_locations"})


@dataclass
class ShopifyOAuthApp:
    """The app as registered in the Partner Dashboard / Dev Dashboard."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    # Shopify does not publish the code's lifetime; 10 minutes is a common reading.
    code_ttl_s: float = 600.0
    codes: CodeBook = field(default_factory=lambda: CodeBook(600.0))


def sign_query(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def mount_oauth(app: FastAPI, config: ShopifySimConfig,
                oauth: ShopifyOAuthApp | None = None) -> None:
    oauth = oauth or ShopifyOAuthApp()
    oauth.codes.ttl_s = oauth.code_ttl_s
    app.state.oauth = oauth

    @app.get("/admin/oauth/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != oauth.client_id:
            return PlainTextResponse("Oauth error invalid_request: The client_id is invalid",
                                     status_code=400)
        if not is_web_url(q.get("redirect_uri")):
            return PlainTextResponse("Oauth error invalid_request: The redirect_uri is "
                                     "missing or not whitelisted", status_code=400)
        scopes = [s for s in (q.get("scope") or "").split(",") if s]
        if not scopes or not set(scopes) <= SCOPES:
            return PlainTextResponse("Oauth error invalid_scope: The scope is invalid",
                                     status_code=400)
        code = oauth.codes.issue({"scope": ",".join(scopes)})
        params = {"code": code, "host": base64.b64encode(
            f"admin.shopify.com/store/{config.shop}".encode()).decode(),
            "shop": config.shop_domain, "timestamp": str(int(time.time()))}
        if q.get("state") is not None:
            params["state"] = q["state"]
        params["hmac"] = sign_query(params, oauth.client_secret)
        return RedirectResponse(with_query(q["redirect_uri"], params), status_code=302)

    @app.post("/admin/oauth/access_token")
    async def access_token(request: Request) -> JSONResponse:
        fields = body_fields(await request.body(), request.headers.get("content-type", ""))
        if (fields.get("client_id"), fields.get("client_secret")) != (oauth.client_id,
                                                                      oauth.client_secret):
            return JSONResponse({"error": "invalid_client", "error_description":
                                 "Client credentials are invalid"}, status_code=400)
        grant = oauth.codes.redeem(fields.get("code"))
        if grant is None:
            return JSONResponse({"error": "invalid_request", "error_description":
                                 "The authorization code was not found or was already "
                                 "used"}, status_code=400)
        return JSONResponse({"access_token": config.access_token, "scope": grant["scope"]})

    @app.get("/_sim/oauth")
    async def oauth_state() -> dict[str, object]:
        return {"client_id": oauth.client_id, "pending": len(oauth.codes.codes),
                "redeemed": oauth.codes.redeemed}
