"""Settings: alert destinations (and the installation's thresholds, read-only), API keys
(create, list, revoke), through the same functions as /v1/settings/alerts and /v1/keys."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from stocksync.api.routes.alert_settings import (
    AlertSettingsIn,
    get_alert_settings,
    put_alert_settings,
)
from stocksync.api.routes.keys import KeyIn, create_key, list_keys, revoke_key
from stocksync.web.deps import Svc, caller
from stocksync.web.render import api_refusal, page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
Prefix = Annotated[str, Path(max_length=20)]


def _context(svc: Svc, who: Viewer) -> dict[str, object]:
    s = svc.settings
    thresholds = [("Channel lag that alerts", f"{s.alert_lag_seconds:g} s",
                   "STOCKSYNC_ALERT_LAG_SECONDS"),
                  ("Reconciliation drift that alerts", f"{s.alert_drift_ratio:.2%}",
                   "STOCKSYNC_ALERT_DRIFT_RATIO"),
                  ("Reserved share of stock that alerts", f"{s.alert_pressure_ratio:.0%}",
                   "STOCKSYNC_ALERT_PRESSURE_RATIO"),
                  ("A channel failing this long alerts", f"{s.alert_failing_seconds:g} s",
                   "STOCKSYNC_ALERT_FAILING_SECONDS"),
                  ("Time between digests", f"{s.digest_hours:g} h", "STOCKSYNC_DIGEST_HOURS")]
    return {"alerts": get_alert_settings(svc, caller(who)),
            "keys": list_keys(svc, caller(who)), "thresholds": thresholds}


@router.get("/settings", response_class=HTMLResponse)
async def settings(request: Request, svc: Svc, who: Signed) -> Response:
    context = await anyio.to_thread.run_sync(_context, svc, who)
    return page(request, "settings.html", who, title="Settings", **context)


def _current_url(svc: Svc, who: Viewer) -> str | None:
    sealed = svc.tenants.alert_destinations(who.tenant_id).sealed_webhook_url
    return svc.box.open(sealed)["url"] if sealed and svc.box is not None else None


@router.post("/settings/alerts", response_class=HTMLResponse)
async def save_alerts(request: Request, svc: Svc, who: Signed,
                      webhook_url: Annotated[str, Form(max_length=2000)] = "",
                      use_default_webhook: Annotated[bool, Form()] = False,
                      digest_to: Annotated[str, Form(max_length=4000)] = "") -> Response:
    """A blank webhook field keeps the current one (it is only ever shown masked)."""
    url = None if use_default_webhook else (webhook_url.strip() or _current_url(svc, who))
    recipients = [a.strip() for a in digest_to.replace("\n", ",").split(",") if a.strip()]
    try:
        body = AlertSettingsIn(webhook_url=url, digest_to=recipients or None)
    except ValidationError as exc:
        return problem(request, who, "; ".join(str(e["msg"]) for e in exc.errors()), 422)
    saved = await anyio.to_thread.run_sync(put_alert_settings, body, svc, caller(who))
    return page(request, "fragments/alert_settings.html", who, alerts=saved, note="Saved.")


@router.post("/settings/keys", response_class=HTMLResponse)
async def new_key(request: Request, svc: Svc, who: Signed,
                  label: Annotated[str, Form(max_length=200)] = "") -> Response:
    made = await anyio.to_thread.run_sync(
        lambda: create_key(svc, caller(who), KeyIn(label=label.strip() or None)))
    keys = await anyio.to_thread.run_sync(list_keys, svc, caller(who))
    return page(request, "fragments/keys.html", who, keys=keys, new_key=made)


@router.post("/settings/keys/{prefix}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, prefix: Prefix, svc: Svc, who: Signed) -> Response:
    answer = await anyio.to_thread.run_sync(
        lambda: revoke_key(prefix, request, svc, caller(who)))
    if isinstance(answer, Response):  # the API's 409: the last active key
        return api_refusal(request, who, answer) or answer
    if prefix == who.key_prefix:  # this session's own key: it ends with it
        return Response(status_code=200, headers={"HX-Redirect": "/login"})
    keys = await anyio.to_thread.run_sync(list_keys, svc, caller(who))
    return page(request, "fragments/keys.html", who, keys=keys)
