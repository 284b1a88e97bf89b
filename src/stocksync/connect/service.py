"""Start a store connection (a state nonce, the platform's URL) and finish it from the
platform's callback: nonce checked and used once, code exchanged, the credentials tested
with the platform, then the channel created, sealed like any other, in preview."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

import anyio
import httpx

from stocksync.app.channel_check import check_credentials
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.connect.amazon import AmazonFlow
from stocksync.connect.ebay import EbayFlow
from stocksync.connect.flows import Flow, Obtained, Start, StateRefused
from stocksync.connect.preview import put_in_preview
from stocksync.connect.shopify import ShopifyFlow
from stocksync.connect.square import SquareFlow
from stocksync.connect.woocommerce import WooCommerceFlow
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import CODE_PATTERN, Channel, ChannelKind
from stocksync.core.errors import DomainError, InvalidInput
from stocksync.storage import connections as stored

FLOWS: dict[ChannelKind, Flow] = {f.kind: f for f in (
    ShopifyFlow(), EbayFlow(), AmazonFlow(), SquareFlow(), WooCommerceFlow())}
InitialSync = Literal["preview", "push"]


@dataclass(frozen=True, slots=True)
class ChannelAsked:
    """The channel the merchant wants the connection to create."""

    code: str
    name: str
    locations: list[str]
    settings: dict[str, str] = field(default_factory=dict)
    initial_sync: InitialSync = "preview"
    platform: dict[str, str] = field(default_factory=dict)  # shop, store_url


def flow_for(kind: str) -> Flow:
    try:
        return FLOWS[ChannelKind(kind)]
    except (ValueError, KeyError):
        raise InvalidInput(f"no authorisation flow for {kind!r}: one of "
                           + ", ".join(sorted(k.value for k in FLOWS)), field="kind") from None


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def start(svc: Stocksync, tenant_id: str, kind: str, asked: ChannelAsked,
          base_url: str) -> dict[str, Any]:
    """Blocking. The URL to send the merchant to; the nonce in it is good once, for this
    tenant, for `connect_minutes`."""
    flow = flow_for(kind)
    settings = svc.settings
    if not re.match(CODE_PATTERN, asked.code):
        raise InvalidInput("code must be lower-case letters, digits, - or _", field="code")
    kept = flow.prepare(settings, asked.platform)
    # Required settings the merchant must give now (the flow fills in its own later).
    registry.check(flow.kind, {**asked.settings, **kept,
                               **{name: "(from the platform)" for name in
                                  flow.provided_settings}}, None, creating=False)
    with svc.uow(tenant_id, write=False) as uow:
        if uow.channels.get(asked.code) is not None:
            raise InvalidInput(f"channel {asked.code} already exists", field="code")
        for code in asked.locations:
            if uow.catalog.location(code) is None:
                raise InvalidInput(f"no location with code {code}", field="locations",
                                   location=code)
    base = (settings.public_url or base_url).rstrip("/")
    state, now = secrets.token_urlsafe(32), svc.clock()
    expires = now + timedelta(minutes=settings.connect_minutes)
    request = {"code": asked.code, "name": asked.name, "locations": asked.locations,
               "settings": asked.settings, "initial_sync": asked.initial_sync,
               "callback_url": f"{base}/v1/connect/{flow.kind.value}/callback",
               "return_url": f"{base}/v1/connect/{flow.kind.value}/return", **kept}
    with svc.engine.begin() as conn:
        stored.purge_connections(conn, now - timedelta(days=1))  # finished or abandoned
        stored.add_connection(conn, _hash(state), tenant_id, flow.kind.value, request, now,
                              expires)
    begin = Start(state, request["callback_url"], request["return_url"], request)
    return {"kind": flow.kind.value, "authorize_url": flow.authorize_url(settings, begin),
            "callback_url": begin.callback_url, "expires_at": expires.isoformat(),
            "channel": asked.code}


async def finish(svc: Stocksync, kind: str, params: dict[str, str]) -> dict[str, Any]:
    """The platform's callback. Refusals raise (4xx) and create nothing."""
    flow = flow_for(kind)
    state = flow.state_of(params)
    if not state:
        raise StateRefused("the callback carries no state: it was not started here")
    flow.verify(svc.settings, params)
    pending = await anyio.to_thread.run_sync(_claim, svc, flow.kind, _hash(state))
    begin = Start(state, pending.request["callback_url"], pending.request["return_url"],
                  pending.request)
    try:
        async with httpx.AsyncClient() as client:
            obtained = await flow.finish(svc.settings, client, params, begin)
        channel = _channel(pending, flow.kind, obtained)
        registry.check(flow.kind, channel.settings, obtained.credentials, creating=True)
        await check_credentials(channel, obtained.credentials)  # the connection test
        preview = pending.request.get("initial_sync", "preview") == "preview"
        await anyio.to_thread.run_sync(_create, svc, channel, obtained.credentials, preview)
    except DomainError as exc:
        await anyio.to_thread.run_sync(_record, svc, _hash(state), None, exc.message)
        raise
    await anyio.to_thread.run_sync(_record, svc, _hash(state), channel.code, None)
    return {"channel": channel.code, "kind": flow.kind.value,
            "state": "preview" if preview else "pushing",
            "preview": f"/v1/channels/{channel.code}/preview",
            "confirm": f"/v1/channels/{channel.code}/confirm"}


def outcome(svc: Stocksync, kind: str, state: str) -> dict[str, Any]:
    """What became of a flow (the page a merchant's browser returns to)."""
    with svc.engine.connect() as conn:
        found = stored.find_connection(conn, _hash(state))
    if found is None or found.kind != flow_for(kind).kind.value:
        raise StateRefused("unknown connection")
    return {"kind": found.kind, "channel": found.channel_code, "error": found.error,
            "completed": found.channel_code is not None}


def _claim(svc: Stocksync, kind: ChannelKind, state_hash: str) -> stored.PendingConnection:
    now = svc.clock()
    with svc.engine.begin() as conn:
        found = stored.find_connection(conn, state_hash)
        if found is None or found.kind != kind.value:
            raise StateRefused("unknown state: this callback does not answer a connection "
                               "started here (forged or for another store kind)")
        if found.used_at is not None:
            raise StateRefused("this state was already used: a connection is finished once",
                               reason="replayed")
        if found.expires_at <= now or not stored.use_connection(conn, state_hash, now):
            raise StateRefused("this connection expired: start it again", reason="expired")
    return found


def _channel(pending: stored.PendingConnection, kind: ChannelKind,
             obtained: Obtained) -> Channel:
    asked = pending.request
    return Channel(tenant_id=pending.tenant_id, code=asked["code"], kind=kind,
                   name=asked["name"], settings={**asked["settings"], **obtained.settings},
                   rules=ChannelRules(tuple(dict.fromkeys(asked["locations"])),
                                      external_changes=registry.connector_class(
                                          kind).default_external_changes))


def _create(svc: Stocksync, channel: Channel, credentials: dict[str, str],
            preview: bool) -> None:
    assert svc.box is not None
    now = svc.clock()
    with svc.uow(channel.tenant_id) as uow:
        if uow.channels.get(channel.code) is not None:
            raise InvalidInput(f"channel {channel.code} already exists", field="code")
        uow.channels.add(replace(channel, enabled=not preview), svc.box.seal(credentials), 0, now)
        if preview:
            put_in_preview(uow, channel.tenant_id, channel.code, True, now)
        uow.commit()


def _record(svc: Stocksync, state_hash: str, code: str | None, error: str | None) -> None:
    with svc.engine.begin() as conn:
        stored.finish_connection(conn, state_hash, code, error)
