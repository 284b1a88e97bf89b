"""WooCommerce's application authentication endpoint (WC_Auth, /wc-auth/v1/authorize;
developer.woocommerce.com REST API "Authentication"):

    GET /wc-auth/v1/authorize   app_name, scope (read | write | read_write), user_id,
                                return_url, callback_url -> the store manager logs in and
                                approves (the simulator approves at once) -> the store
                                POSTs JSON {key_id, user_id, consumer_key, consumer_secret,
                                key_permissions} to callback_url; on a 2xx answer the
                                browser is sent to return_url?success=1&user_id=…,
                                otherwise the keys are deleted and the page shows an error
    GET /_sim/oauth             keys handed out and callbacks refused

WooCommerce asks callback_url to be HTTPS; the simulator lets loopback addresses use plain
HTTP (a local stocksync), like a development store. The keys are the store's
(`WooCommerceSimConfig.consumer_key/secret`), so its REST API accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from stocksync.simulators.oauth_common import is_loopback, is_web_url, with_query
from stocksync.simulators.woocommerce_state import WooCommerceSimConfig

SCOPES = ("read", "write", "read_write")
SEND_FAILED = ("An error occurred in the request and at the time were unable to send the "
               "consumer data")


@dataclass
class WooAuthLog:
    keys_sent: int = 0
    callbacks_refused: int = 0
    next_key_id: int = 1


def mount_oauth(app: FastAPI, config: WooCommerceSimConfig) -> None:
    log = WooAuthLog()
    app.state.oauth = log

    @app.get("/wc-auth/v1/authorize", response_model=None)
    async def authorize(request: Request) -> Response:
        q = request.query_params
        for name in ("app_name", "scope", "user_id", "return_url", "callback_url"):
            if not q.get(name):
                return PlainTextResponse(f"Missing parameter {name}", status_code=400)
        if q["scope"] not in SCOPES:
            return PlainTextResponse("Invalid scope", status_code=400)
        callback, back = q["callback_url"], q["return_url"]
        if not is_web_url(back) or not is_web_url(callback):
            return PlainTextResponse("The return_url and callback_url must be valid URLs",
                                     status_code=400)
        if not callback.startswith("https://") and not is_loopback(callback):
            return PlainTextResponse("The callback_url needs to be over SSL", status_code=400)
        data = {"key_id": log.next_key_id, "user_id": q["user_id"],
                "consumer_key": config.consumer_key,
                "consumer_secret": config.consumer_secret, "key_permissions": q["scope"]}
        log.next_key_id += 1
        try:
            async with httpx.AsyncClient(timeout=60) as client:
                answer = await client.post(callback, json=data)
            sent = answer.is_success
        except httpx.HTTPError:
            sent = False
        if not sent:
            log.callbacks_refused += 1
            return PlainTextResponse(f"Error: {SEND_FAILED}", status_code=401)
        log.keys_sent += 1
        return RedirectResponse(with_query(back, {"success": "1", "user_id": q["user_id"]}),
                                status_code=302)

    @app.get("/_sim/oauth")
    async def oauth_state() -> dict[str, int]:
        return {"keys_sent": log.keys_sent, "callbacks_refused": log.callbacks_refused}
