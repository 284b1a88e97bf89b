"""Sign-in with an API key, sign-out, and `/` sending each visitor where they belong."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocksync.api.deps import KeyCache
from stocksync.app.service import Stocksync
from stocksync.storage.tenants import KEY_PREFIX, PREFIX_LENGTH
from stocksync.web import session
from stocksync.web.render import page
from stocksync.web.routing import PageRoute

router = APIRouter(route_class=PageRoute)
log = structlog.get_logger()
MAX_KEY = 200


def _service(request: Request) -> Stocksync:
    svc: Stocksync = request.app.state.service
    return svc


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/overview"


@router.get("/")
def root(request: Request) -> Response:
    signed = isinstance(request.session.get("tenant"), str)
    return RedirectResponse("/overview" if signed else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", None, csrf=session.csrf_token(request),
                next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, api_key: Annotated[str, Form(max_length=MAX_KEY)],
                next: Annotated[str | None, Form()] = None) -> Response:
    await session.check_csrf(request)
    svc = _service(request)
    key = api_key.strip()
    cache: KeyCache = request.app.state.key_cache
    tenant_id = cache.tenant(svc, key) if key.startswith(KEY_PREFIX) else None
    if tenant_id is None:
        log.warning("dashboard_sign_in_refused")
        return page(request, "login.html", None, status_code=401,
                    csrf=session.csrf_token(request), next=_safe_next(next),
                    message="That API key is unknown or revoked.")
    info = svc.tenants.resolve(tenant_id)
    session.sign_in(request, tenant_id, info.name if info else tenant_id, key[:PREFIX_LENGTH])
    log.info("dashboard_signed_in", tenant=tenant_id, key=key[:PREFIX_LENGTH])
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await session.check_csrf(request)
    session.sign_out(request)
    return RedirectResponse("/login", status_code=303)
