"""Channels: where stock is sold, with their rules, credentials (write-only) and status."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Annotated, Any, Literal

import anyio
import httpx
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field, model_validator

from stocksync.api.deps import Caller, IdemKey, Svc, Who, write
from stocksync.api.errors import documented, json_error
from stocksync.api.routes.channel_content import content_by_sku
from stocksync.api.routes.channel_views import ChannelOut, channel_out
from stocksync.api.schemas import LocationCode, Strict
from stocksync.app.channel_check import ChannelUnreachable, check_credentials
from stocksync.app.connect import connect
from stocksync.app.ports import Channels, UnitOfWork
from stocksync.app.reconcile import reconcile
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.channels.base import DiscoversMapping
from stocksync.connect.preview import put_in_preview
from stocksync.core.channel_rules import ChannelRules, ExternalChanges, location_legs
from stocksync.core.channels import CODE_PATTERN, Channel, ChannelKind
from stocksync.core.errors import InvalidInput, NotFound
from stocksync.core.revisions import RevisionBudget, used_today
from stocksync.storage.channels import rules_to_json

router = APIRouter(prefix="/v1/channels", tags=["channels"])
Code = Annotated[str, Path(pattern=CODE_PATTERN)]
Pattern = Annotated[str, Field(min_length=1, max_length=64)]


class RulesIn(Strict):
    safety_buffer: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    allocation_percent: Annotated[int, Field(ge=0, le=100)] = 100
    max_quantity: Annotated[int | None, Field(ge=0)] = None
    include: Annotated[list[Pattern], Field(max_length=100)] = Field(default_factory=list)
    exclude: Annotated[list[Pattern], Field(max_length=100)] = Field(default_factory=list)
    external_changes: Literal["accept", "overwrite"] | None = Field(
        None, description="a change made inside the channel that none of its orders "
        "explains: `accept` records it as an adjustment, `overwrite` puts stocksync's value "
        "back. Default: `accept`, except `overwrite` for generic_http channels")


class ChannelIn(Strict):
    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    kind: Literal["shopify", "generic_http", "pos", "woocommerce", "square", "ebay", "amazon"]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    locations: Annotated[list[LocationCode], Field(min_length=1, max_length=100)]
    settings: dict[Annotated[str, Field(max_length=64)],
                   Annotated[str, Field(max_length=2000)]] = Field(default_factory=dict)
    credentials: dict[Annotated[str, Field(max_length=64)],
                      Annotated[str, Field(max_length=4000)]] = Field(default_factory=dict)
    rules: RulesIn = Field(default_factory=RulesIn)
    enabled: bool = True
    initial_sync: Literal["push", "preview"] = Field(
        "push", description="`preview`: the channel is stored but pushes nothing until "
        "POST /v1/channels/{code}/confirm (GET …/preview shows what the first push would "
        "change). `push` (the default here): it starts pushing at once. Channels connected "
        "by GET /v1/connect/{kind} start in preview")


class ChannelPatch(Strict):
    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    locations: Annotated[list[LocationCode] | None, Field(min_length=1, max_length=100)] = None
    settings: dict[str, str] | None = None
    credentials: dict[str, str] | None = None
    rules: RulesIn | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ChannelPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self


def _rules(kind: ChannelKind, locations: list[str], rules: RulesIn) -> ChannelRules:
    for pattern in rules.include + rules.exclude:
        if re.search(r"[^A-Za-z0-9._\-/*?\[\]!]", pattern):
            raise InvalidInput(f"SKU pattern {pattern!r} has characters no SKU can contain",
                               field="rules")
    return ChannelRules(locations=tuple(dict.fromkeys(locations)),
                        safety_buffer=rules.safety_buffer,
                        allocation_percent=rules.allocation_percent,
                        max_quantity=rules.max_quantity, include=tuple(rules.include),
                        exclude=tuple(rules.exclude),
                        external_changes=ExternalChanges(rules.external_changes)
                        if rules.external_changes
                        else registry.connector_class(kind).default_external_changes)


def _online(settings: dict[str, str]) -> list[str]:
    """The `online_location` setting names a location too (where online orders are taken)."""
    return [settings["online_location"]] if settings.get("online_location") else []


def _check_locations(uow: UnitOfWork, locations: list[str]) -> None:
    for code in locations:
        if uow.catalog.location(code) is None:
            raise InvalidInput(f"no location with code {code}", field="locations",
                               location=code)


def _require(repo: Channels, code: str) -> Channel:
    channel = repo.get(code)
    if channel is None:
        raise NotFound(f"no channel {code}", channel=code)
    return channel


Verify = Annotated[bool, Query(description="ask the platform whether it accepts the "
                               "credentials before storing them (the default): refused "
                               "-> 422 credentials_refused, no answer -> 502/503 "
                               "channel_unreachable. `false` stores them unchecked")]


def _verified(svc: Stocksync, who: Caller, idempotency_key: str | None, channel: Channel,
              credentials: dict[str, str]) -> Response | None:
    """None once the platform accepted the credentials (or when this request replays a
    stored answer); the 502/503 answer when it could not be asked. A refusal raises."""
    if idempotency_key is not None:
        with svc.uow(who.tenant_id, write=False) as uow:
            if uow.idempotency.lookup(idempotency_key) is not None:
                return None
    try:  # a sync route runs in a worker thread: run the async check on the event loop
        anyio.from_thread.run(check_credentials, channel, credentials)
    except ChannelUnreachable as exc:
        if exc.retry_after is None:
            return json_error(502, exc.code, exc.message, exc.details)
        return json_error(503, exc.code, exc.message, exc.details,
                          {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
    return None


@router.post("", status_code=201, response_model=ChannelOut,
             responses=documented(502, 503))
def create_channel(request: Request, body: ChannelIn, svc: Svc, who: Who,
                   idempotency_key: IdemKey = None, verify: Verify = True) -> Response:
    kind = ChannelKind(body.kind)
    registry.check(kind, body.settings, body.credentials, creating=True)
    assert svc.box is not None
    channel = Channel(tenant_id=who.tenant_id, code=body.code, kind=kind, name=body.name,
                      rules=_rules(kind, body.locations, body.rules), settings=body.settings,
                      enabled=body.enabled and body.initial_sync == "push")
    if verify and (unverified := _verified(svc, who, idempotency_key, channel,
                                           body.credentials)) is not None:
        return unverified

    def action(uow: UnitOfWork, ctx: WriteContext) -> ChannelOut:
        repo = uow.channels
        if repo.get(body.code) is not None:
            raise InvalidInput(f"channel {body.code} already exists", field="code")
        _check_locations(uow, body.locations + _online(body.settings))
        # cursor 0: the first projection walks the whole log, so the channel starts in sync.
        repo.add(channel, svc.box.seal(body.credentials) if body.credentials else None, 0,
                 ctx.now)
        if body.initial_sync == "preview":  # stored disabled until confirmed
            put_in_preview(uow, who.tenant_id, body.code, body.enabled, ctx.now)
        stored = repo.get(body.code)
        assert stored is not None
        return channel_out(uow, stored, ctx.now, with_status=False)

    return write(request, svc, who, idempotency_key, body, action,
                 lambda out: (201, out.model_dump(mode="json")))


@router.get("", response_model=list[ChannelOut])
def list_channels(svc: Svc, who: Who) -> list[ChannelOut]:
    now = svc.clock()
    with svc.uow(who.tenant_id, write=False) as uow:
        return [channel_out(uow, c, now, with_status=True,
                     degraded_after=svc.settings.alert_lag_seconds)
                for c in uow.channels.list()]


@router.get("/{code}", response_model=ChannelOut)
def get_channel(code: Code, svc: Svc, who: Who) -> ChannelOut:
    """The channel with its state, lag, pending, held and parked SKUs, last push, last
    error (and whether it recovered), order polls and refused webhooks."""
    now = svc.clock()
    with svc.uow(who.tenant_id, write=False) as uow:
        channel = _require(uow.channels, code)
        return channel_out(uow, channel, now, with_status=True,
                    degraded_after=svc.settings.alert_lag_seconds)


@router.patch("/{code}", response_model=ChannelOut, responses=documented(502, 503))
def change_channel(request: Request, code: Code, body: ChannelPatch, svc: Svc, who: Who,
                   idempotency_key: IdemKey = None, verify: Verify = True) -> Response:
    """Credentials are merged (patching one secret keeps the others); new credentials or
    settings are checked with the platform first, like a new channel's."""
    assert svc.box is not None
    if verify and (body.credentials is not None or body.settings is not None):
        channel, credentials = _patched(svc, who, code, body)
        if (unverified := _verified(svc, who, idempotency_key, channel,
                                    credentials)) is not None:
            return unverified

    def action(uow: UnitOfWork, ctx: WriteContext) -> ChannelOut:
        repo = uow.channels
        current = _require(repo, code)
        locations = body.locations or list(current.rules.locations)
        _check_locations(uow, locations + _online(body.settings or {}))
        kept = RulesIn(**{k: v for k, v in rules_to_json(current.rules).items()
                          if k != "locations"})
        rules = _rules(current.kind, locations, body.rules or kept)
        settings = body.settings if body.settings is not None else current.settings
        credentials = None
        if body.credentials is not None:  # merged: patching one secret keeps the others
            sealed = repo.sealed_credentials(code)
            credentials = {**(svc.box.open(sealed) if sealed else {}), **body.credentials}
        registry.check(current.kind, settings, credentials, creating=False)
        changed = Channel(tenant_id=who.tenant_id, code=code, kind=current.kind,
                          name=body.name or current.name, rules=rules, settings=settings,
                          enabled=current.enabled if body.enabled is None else body.enabled,
                          webhook_id=current.webhook_id)
        repo.change(changed, svc.box.seal(credentials) if credentials else None, ctx.now)
        if credentials is not None or body.settings is not None:
            repo.unpark_all(code)  # refusals may have been the old credentials' fault
        if rules != current.rules or \
                location_legs(settings) != location_legs(current.settings):
            repo.advance(code, 0)  # new rules or store locations: recompute every SKU
        return channel_out(uow, changed, ctx.now, with_status=False)

    return write(request, svc, who, idempotency_key, body, action,
                 lambda out: (200, out.model_dump(mode="json")))


def _patched(svc: Stocksync, who: Caller, code: str,
             body: ChannelPatch) -> tuple[Channel, dict[str, str]]:
    """The channel and credentials as the patch would leave them (to check them first)."""
    assert svc.box is not None
    with svc.uow(who.tenant_id, write=False) as uow:
        repo = uow.channels
        current = _require(repo, code)
        sealed = repo.sealed_credentials(code)
    settings = body.settings if body.settings is not None else current.settings
    credentials = {**(svc.box.open(sealed) if sealed else {}), **(body.credentials or {})}
    registry.check(current.kind, settings, credentials, creating=False)
    return replace(current, settings=settings), credentials


@router.delete("/{code}", status_code=204)
def delete_channel(request: Request, code: Code, svc: Svc, who: Who,
                   idempotency_key: IdemKey = None) -> Response:
    def action(uow: UnitOfWork, ctx: WriteContext) -> None:
        repo = uow.channels
        _require(repo, code)
        repo.remove(code)

    response = write(request, svc, who, idempotency_key, None, action,
                     lambda _: (204, None))
    if response.status_code == 204:
        return Response(status_code=204)
    return response


@router.post("/{code}/resync", response_model=ChannelOut)
def resync_channel(request: Request, code: Code, svc: Svc, who: Who,
                   idempotency_key: IdemKey = None) -> Response:
    """Push every SKU again from scratch (e.g. after the channel's data was reset)."""
    def action(uow: UnitOfWork, ctx: WriteContext) -> ChannelOut:
        repo = uow.channels
        channel = _require(repo, code)
        repo.resync(code)
        repo.change(channel, None, ctx.now)  # bumps updated_at: the worker restarts
        return channel_out(uow, channel, ctx.now, with_status=False)

    return write(request, svc, who, idempotency_key, None, action,
                 lambda out: (200, out.model_dump(mode="json")))


class SkuMappingIn(Strict):
    external_ids: dict[Annotated[str, Field(max_length=64)],
                       Annotated[str, Field(min_length=1, max_length=200)]]


@router.get("/{code}/skus")
def list_channel_skus(code: Code, svc: Svc, who: Who, after: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Per SKU: the channel's own ids, the quantity it should show and the one it has."""
    with svc.uow(who.tenant_id, write=False) as uow:
        repo = uow.channels
        channel = _require(repo, code)
        rows = repo.page(code, after, limit)
    now = svc.clock()
    capped = channel.kind is ChannelKind.EBAY
    budget = RevisionBudget()
    content = content_by_sku(svc, who.tenant_id, code, [r.sku for r in rows])  # content sync
    return [{"sku": r.sku, "external_ids": r.external_ids, "wanted": r.wanted,
             "pushed": r.pushed, "pending_since": r.pending_since, "parked": r.parked_reason,
             **({"revisions_left_today": budget.cap - used_today(
                 int(r.revisions or 0), r.revisions_day, now)} if capped else {}),
             **({"content": content.get(r.sku)} if content else {})}
            for r in rows]


@router.put("/{code}/skus/{sku:path}")
def map_channel_sku(request: Request, code: Code, sku: Annotated[str, Path(
        pattern=r"^[A-Za-z0-9._\-/]{1,64}$")], body: SkuMappingIn, svc: Svc, who: Who,
        idempotency_key: IdemKey = None) -> Response:
    """Set the channel's own ids for a SKU (e.g. Shopify's inventory_item_id)."""
    def action(uow: UnitOfWork, ctx: WriteContext) -> dict[str, Any]:
        repo = uow.channels
        _require(repo, code)
        repo.set_external_ids(code, {sku: dict(body.external_ids)})
        return {"sku": sku, "external_ids": body.external_ids}

    return write(request, svc, who, idempotency_key, body, action, lambda out: (200, out))


@router.post("/{code}/discover")
async def discover_mapping(code: Code, svc: Svc, who: Who) -> dict[str, Any]:
    """Look every catalog SKU up in the channel and store the ids it has for them."""
    def load() -> tuple[Channel, dict[str, str], list[str]]:
        with svc.uow(who.tenant_id, write=False) as uow:
            repo = uow.channels
            channel = _require(repo, code)
            sealed = repo.sealed_credentials(code)
            skus = [i.sku for i in uow.catalog.items(limit=100_000)]
        assert svc.box is not None
        return channel, svc.box.open(sealed) if sealed else {}, skus

    channel, credentials, skus = await anyio.to_thread.run_sync(load)
    field = registry.connector_class(channel.kind).mapping_field
    async with httpx.AsyncClient(timeout=30) as client:
        connector = registry.build(channel, credentials, client)
        if not isinstance(connector, DiscoversMapping) or field is None:
            return {"discovered": 0, "missing": [], "note": f"{channel.kind.value} channels "
                    "address items by SKU: there is nothing to discover"}
        found = await connector.discover_mapping(skus)

    def store() -> None:
        with svc.uow(who.tenant_id) as uow:
            uow.channels.set_external_ids(
                code, {sku: {field: gid} for sku, gid in found.items()})
            uow.commit()

    await anyio.to_thread.run_sync(store)
    return {"discovered": len(found), "missing": sorted(set(skus) - set(found))}




@router.post("/{code}/reconcile", status_code=201)
async def reconcile_channel(code: Code, svc: Svc, who: Who,
                            apply: bool = False) -> dict[str, Any]:
    """Compare what the channel shows with the ledger (dry run unless `apply=true`, which
    pushes the source values). Runs to completion and returns the stored report."""
    def load() -> Channel:
        with svc.uow(who.tenant_id, write=False) as uow:
            return _require(uow.channels, code)

    channel = await anyio.to_thread.run_sync(load)
    if channel.kind not in registry.PUSHED:
        raise InvalidInput(f"{channel.kind.value} channels cannot be read back", field="code")
    async with httpx.AsyncClient(timeout=30) as client:
        connector = await anyio.to_thread.run_sync(connect, svc, channel, client)
        report = await reconcile(svc, channel, connector, apply=apply)
    return report.as_json()
