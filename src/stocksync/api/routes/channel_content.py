"""Content sync per channel: which data types go out or come in, and when; per-channel
content overrides of a SKU; the content state per SKU (also in GET /v1/channels/{code}/skus).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field

from stocksync.api.deps import Svc, Who
from stocksync.api.schemas import Strict
from stocksync.app.content_overrides import CONTENT, content_store, set_channel_content
from stocksync.app.content_ports import ContentState
from stocksync.app.service import Stocksync
from stocksync.channels.content_writers import content_fields_of
from stocksync.core.channels import CODE_PATTERN
from stocksync.core.content import (
    FIELD_TYPES,
    ChannelContent,
    ContentSettings,
    merge_settings,
    to_send,
)
from stocksync.core.errors import NotFound

router = APIRouter(prefix="/v1/channels", tags=["content sync"])
Code = Annotated[str, Path(pattern=CODE_PATTERN)]
Sku = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-/]{1,64}$")]


class TypeSettingIn(Strict):
    enabled: bool | None = None
    direction: Literal["out", "in", "both"] | None = None
    schedule: Annotated[str | None, Field(max_length=100, description=(
        "`realtime`, or a cron expression (`*/15 * * * *`): changes wait for its next "
        "fire time"))] = None


DataTypeName = Literal["title", "description", "seo", "price", "images", "options"]


class ContentSettingsIn(Strict):
    types: dict[DataTypeName, TypeSettingIn] = Field(default_factory=dict)
    create_missing: bool | None = Field(None, description=(
        "publish a SKU the channel does not list yet (WooCommerce); elsewhere such a SKU "
        "is refused with the reason"))


class OverrideIn(Strict):
    title: Annotated[str | None, Field(max_length=500)] = None
    description: Annotated[str | None, Field(max_length=100_000)] = None
    aspects: dict[Annotated[str, Field(max_length=65)],
                  list[Annotated[str, Field(max_length=65)]]] | None = None
    source: Annotated[str, Field(min_length=1, max_length=100)] = "api"


def _settings_out(svc: Stocksync, tenant: str, code: str,
                  settings: ContentSettings) -> dict[str, Any]:
    kind = _channel(svc, tenant, code)
    return {"channel": code, **settings.as_json(),
            "fields": sorted(content_fields_of(kind)),
            "field_types": {f: t.value for f, t in FIELD_TYPES.items()
                            if f in content_fields_of(kind)}}


def _channel(svc: Stocksync, tenant: str, code: str) -> Any:
    with svc.uow(tenant, write=False) as uow:
        channel = uow.channels.get(code)
    if channel is None:
        raise NotFound(f"no channel {code}", channel=code)
    return channel.kind


@router.get("/{code}/content")
def get_content_settings(code: Code, svc: Svc, who: Who) -> dict[str, Any]:
    """Which content data types this channel syncs, in which direction and when."""
    _channel(svc, who.tenant_id, code)
    settings = content_store(svc).settings(who.tenant_id, code) or ContentSettings()
    return _settings_out(svc, who.tenant_id, code, settings)


@router.patch("/{code}/content")
def change_content_settings(code: Code, body: ContentSettingsIn, svc: Svc,
                            who: Who) -> dict[str, Any]:
    """Switch data types on or off, set their direction (out, in, both) and timing; a type
    or key left out keeps its setting. Every SKU is compared again (only differences go)."""
    _channel(svc, who.tenant_id, code)
    store = content_store(svc)
    current = store.settings(who.tenant_id, code) or ContentSettings()
    merged = merge_settings(current, body.model_dump(exclude_none=True))
    store.put_settings(who.tenant_id, code, merged, svc.clock())
    svc.bus.ring(CONTENT)
    return _settings_out(svc, who.tenant_id, code, merged)


def _override_out(content: ChannelContent | None) -> dict[str, Any] | None:
    if content is None:
        return None
    return {"title": content.title, "description": content.description,
            "aspects": content.aspects, "updated_at": content.updated_at,
            "source": content.source}


@router.put("/{code}/content/{sku:path}")
def put_override(code: Code, sku: Sku, body: OverrideIn, svc: Svc, who: Who) -> dict[str, Any]:
    """This SKU's title, description or item specifics on this channel only (null: the
    item's own again). See set_channel_content."""
    fields = body.model_dump(exclude={"source"}, exclude_unset=True)
    stored = set_channel_content(svc, who.tenant_id, sku, code, fields, body.source)
    return {"sku": sku, "channel": code, "override": _override_out(stored)}


@router.get("/{code}/content/{sku:path}")
def get_override(code: Code, sku: Sku, svc: Svc, who: Who) -> dict[str, Any]:
    _channel(svc, who.tenant_id, code)
    store = content_store(svc)
    state = store.states(who.tenant_id, code, [sku]).get(sku)
    return {"sku": sku, "channel": code,
            "override": _override_out(store.override(who.tenant_id, code, sku)),
            "content": state_out(state) if state else None}


def state_out(state: ContentState) -> dict[str, Any]:
    waiting = to_send(state.wanted, state.channel_has)
    return {"in_sync": not waiting and state.refused is None, "waiting": waiting,
            "pending_since": state.pending_since, "next_attempt_at": state.due_at,
            "attempts": state.attempts, "last_error": state.last_error,
            "refused": state.refused, "pushed_at": state.pushed_at,
            "received_at": state.received_at}


def content_by_sku(svc: Stocksync, tenant: str, code: str,
                   skus: list[str]) -> dict[str, dict[str, Any]]:
    """Content state per SKU for GET /v1/channels/{code}/skus (empty: no content sync)."""
    store = content_store(svc)
    if store.settings(tenant, code) is None:
        return {}
    return {sku: state_out(s) for sku, s in store.states(tenant, code, skus).items()}
