"""Who is signed in, and the CSRF check every state-changing request passes.

The session cookie (Starlette's SessionMiddleware: signed, HttpOnly, SameSite=Lax) holds
the tenant id, the prefix of the API key used to sign in and a random CSRF token; never the
key itself. Each request checks that the key is still active, so revoking it signs its
sessions out at once."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocksync.app.service import Stocksync

COOKIE = "stocksync_session"
SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SignedOut(Exception):
    """No valid session: pages redirect to the sign-in page, fragments tell htmx to."""


class CsrfRefused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Viewer:
    tenant_id: str
    tenant_name: str
    key_prefix: str
    csrf: str

    @property
    def actor(self) -> str:
        return "key:" + self.key_prefix  # the same actor the API records for this key


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, also before signing in)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def sign_in(request: Request, tenant_id: str, tenant_name: str, key_prefix: str) -> None:
    request.session.clear()  # a fresh session (and CSRF token) at each sign-in
    request.session.update({"tenant": tenant_id, "name": tenant_name, "key": key_prefix})
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


def _service(request: Request) -> Stocksync:
    svc: Stocksync = request.app.state.service
    return svc


def viewer(request: Request) -> Viewer:
    tenant_id, prefix = request.session.get("tenant"), request.session.get("key")
    if not isinstance(tenant_id, str) or not isinstance(prefix, str):
        raise SignedOut
    keys = _service(request).tenants.keys(tenant_id)
    if not any(k.prefix == prefix and k.active for k in keys):
        request.session.clear()  # the key was revoked: so is this session
        raise SignedOut
    return Viewer(tenant_id, str(request.session.get("name", tenant_id)), prefix,
                  csrf_token(request))


def signed_viewer(request: Request) -> Viewer | None:
    """The viewer this request's dependency already checked (None before signing in)."""
    tenant_id, prefix = request.session.get("tenant"), request.session.get("key")
    if not isinstance(tenant_id, str) or not isinstance(prefix, str):
        return None
    return Viewer(tenant_id, str(request.session.get("name", tenant_id)), prefix,
                  csrf_token(request))


async def checked_viewer(request: Request) -> Viewer:
    """`viewer`, and for a state-changing request the CSRF token, sent as the
    X-CSRF-Token header (htmx) or the csrf_token form field (plain forms)."""
    who = viewer(request)
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return who


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not isinstance(expected, str) or sent is None or \
            not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused


Signed = Annotated[Viewer, Depends(checked_viewer)]


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignedOut)
    async def _signed_out(request: Request, _: SignedOut) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path not in ("/", "/login"):
            target += "?next=" + quote(request.url.path + (
                "?" + request.url.query if request.url.query else ""), safe="")
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        if request.url.path.startswith("/api/"):
            return Response('{"error":"unauthorized","message":"sign in first",'
                            '"details":{}}', status_code=401, media_type="application/json")
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf_refused(request: Request, _: CsrfRefused) -> Response:
        return HTMLResponse("<!doctype html><title>Refused</title><h1>Refused</h1>"
                            "<p>This form's security token is missing or out of date. "
                            "Go back, reload the page and try again.</p>", status_code=403)
