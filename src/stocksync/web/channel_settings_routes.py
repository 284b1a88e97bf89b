"""A channel's settings forms: content sync per data type (on/off, direction, timing,
create_missing) and, on Shopify channels, which stocksync locations each store location
shows (`location_map.<store location id>`). Each saves through the same function as its
API route (PATCH /v1/channels/{code}/content, PATCH /v1/channels/{code}), so the page and
the API refuse the same input with the same message; a refused form changes nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from stocksync.api.routes.catalog import list_locations
from stocksync.api.routes.channel_content import (
    ContentSettingsIn,
    change_content_settings,
    get_content_settings,
)
from stocksync.api.routes.channels import (
    ChannelPatch,
    change_channel,
    get_channel,
    resync_channel,
)
from stocksync.channels.registry import MULTI_LOCATION
from stocksync.core.channel_rules import LOCATION_MAP_PREFIX, location_legs
from stocksync.core.channels import ChannelKind
from stocksync.core.content import DataType, Direction
from stocksync.core.errors import DomainError
from stocksync.web.channel_routes import Code
from stocksync.web.deps import Svc, caller
from stocksync.web.render import page
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
TYPES = [t.value for t in DataType]
DIRECTIONS = [d.value for d in Direction]
STORE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
NEW_ROWS = 2  # blank rows to add store locations in one save


# ---- content sync -------------------------------------------------------------------------

def _content_view(svc: Svc, who: Viewer, code: str) -> dict[str, Any]:
    current = get_content_settings(code, svc, caller(who))
    carried = set(current["field_types"].values())
    rows = [{"type": t, "carried": t in carried,
             **current["types"].get(t, {"enabled": False, "direction": "out",
                                        "schedule": "realtime"})} for t in TYPES]
    return {"code": code, "rows": rows, "create_missing": current["create_missing"]}


def content_patch(form: Any) -> dict[str, Any]:
    """The form as a PATCH body: every data type, its box ticked or not."""
    types = {t: {"enabled": form.get(f"{t}.enabled") == "on",
                 "direction": form.get(f"{t}.direction") or "out",
                 "schedule": (form.get(f"{t}.schedule") or "").strip() or "realtime"}
             for t in TYPES}
    return {"types": types, "create_missing": form.get("create_missing") == "on"}


@router.get("/channels/{code}/content-settings", response_class=HTMLResponse)
async def content_form(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    view = await anyio.to_thread.run_sync(_content_view, svc, who, code)
    return page(request, "fragments/content_settings.html", who, **view)


@router.post("/channels/{code}/content-settings", response_class=HTMLResponse)
async def save_content(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    sent = content_patch(await request.form())
    errors: dict[str, str] = {}
    try:
        body = ContentSettingsIn.model_validate(sent)
        await anyio.to_thread.run_sync(change_content_settings, code, body, svc, caller(who))
    except ValidationError as exc:
        errors = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
    except DomainError as exc:
        errors = {str(exc.details.get("field", "form")): exc.message}
    view = await anyio.to_thread.run_sync(_content_view, svc, who, code)
    if errors:  # show what was typed, not what is stored, beside the API's message
        for row in view["rows"]:
            row.update(sent["types"][row["type"]])
        view["create_missing"] = sent["create_missing"]
    return page(request, "fragments/content_settings.html", who,
                status_code=422 if errors else 200, errors=errors,
                note="" if errors else "content sync settings saved", **view)


# ---- store locations (Shopify location mapping) -------------------------------------------

def _store_ids(settings: dict[str, str]) -> list[str]:
    """The store locations this channel knows: mapped ones, its own location_id and those
    named by `location.<id>` order settings."""
    known = set(location_legs(settings))
    known.update(k[len("location."):] for k in settings if k.startswith("location."))
    if settings.get("location_id"):
        known.add(settings["location_id"])
    return sorted(known)


def _locations_view(svc: Svc, who: Viewer, code: str) -> dict[str, Any]:
    channel = get_channel(code, svc, caller(who))
    legs = location_legs(channel.settings)
    rows = _rows([(i, list(legs.get(i, ()))) for i in _store_ids(channel.settings)])
    return {"code": code, "rows": rows, "mapped": bool(legs),
            "multi": ChannelKind(channel.kind) in MULTI_LOCATION,
            "locations": list_locations(svc, caller(who)), "settings": channel.settings}


def _rows(known: list[tuple[str, list[str]]]) -> list[dict[str, Any]]:
    """Known store locations, then blank rows to add some; `label` names each for screen
    readers."""
    rows = [{"id": i, "codes": c, "new": False, "label": f"store location {i}"}
            for i, c in known]
    return rows + [{"id": "", "codes": [], "new": True, "label": f"new store location {n}"}
                   for n in range(1, NEW_ROWS + 1)]


def location_map_settings(settings: dict[str, str], rows: list[tuple[str, list[str]]]
                          ) -> dict[str, str]:
    """The channel's settings with its `location_map.*` replaced by the rows (a row with
    nothing selected is no longer mapped); every other setting kept (PATCH replaces)."""
    kept = {k: v for k, v in settings.items() if not k.startswith(LOCATION_MAP_PREFIX)}
    return kept | {f"{LOCATION_MAP_PREFIX}{store_id}": ",".join(codes)
                   for store_id, codes in rows if codes}


def _rows_of(form: Any) -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
    rows, errors = [], {}
    for n in range(int(form.get("rows") or 0)):
        store_id = (form.get(f"store_id_{n}") or "").strip()
        codes = [str(c) for c in form.getlist(f"map_{n}")]
        if not store_id:
            if codes:
                errors[f"store_id_{n}"] = "give the store location id these locations go to"
            continue
        if not STORE_ID.match(store_id):
            errors[f"store_id_{n}"] = f"{store_id!r}: a store location id is letters, " \
                "digits, - or _"
            continue
        rows.append((store_id, codes))
    return rows, errors


@router.get("/channels/{code}/store-locations", response_class=HTMLResponse)
async def locations_form(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    view = await anyio.to_thread.run_sync(_locations_view, svc, who, code)
    return page(request, "fragments/store_locations.html", who, **view)


@router.post("/channels/{code}/store-locations", response_class=HTMLResponse)
async def save_locations(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    rows, errors = _rows_of(await request.form())
    view = await anyio.to_thread.run_sync(_locations_view, svc, who, code)
    refusal = ""
    settings = location_map_settings(view["settings"], rows)
    moved = location_legs(settings) != location_legs(view["settings"])
    if not errors:
        try:
            answer = await anyio.to_thread.run_sync(lambda: change_channel(
                request, code, ChannelPatch(settings=settings), svc, caller(who),
                verify=False))
            if answer.status_code >= 400:
                refusal = _message(answer)
            elif moved:
                # The map decides which targets exist (`SKU` or `SKU@<store id>`), and a
                # settings change alone does not recompute them: start again from the
                # whole log, as POST /v1/channels/{code}/resync does.
                answer = await anyio.to_thread.run_sync(
                    lambda: resync_channel(request, code, svc, caller(who)))
                refusal = _message(answer) if answer.status_code >= 400 else ""
        except DomainError as exc:
            refusal = exc.message
    if errors or refusal:  # keep what was chosen on screen beside the reason
        view["rows"] = _rows(rows)
        return page(request, "fragments/store_locations.html", who, status_code=422,
                    errors=errors, refusal=refusal, **view)
    view = await anyio.to_thread.run_sync(_locations_view, svc, who, code)
    return page(request, "fragments/store_locations.html", who, note="store locations saved"
                + ("; every SKU is pushed again per store location" if moved else ""), **view)


def _message(answer: Response) -> str:
    body = bytes(answer.body) if isinstance(answer.body, bytes | memoryview) else b"{}"
    return str(json.loads(body or b"{}").get("message", "refused"))
