"""The tenant's API keys: list, create, revoke and rotate. A key is named by its prefix;
the key itself is shown once, when it is made, and never stored (only its SHA-256 hash).

Key writes take no Idempotency-Key on purpose: a remembered answer would keep the new key
in the database in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.api.deps import KeyCache, Svc, Who
from stocksync.api.errors import json_error
from stocksync.app.tenants import KeyInfo, KeyRevoked, LastActiveKey, TenantRefused
from stocksync.core.errors import NotFound
from stocksync.storage.tenants import MAX_LABEL

router = APIRouter(prefix="/v1/keys", tags=["keys"])
log = structlog.get_logger()


class KeyOut(BaseModel):
    prefix: str = Field(description="names the key here and as `key:<prefix>` in the audit log")
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool
    current: bool = Field(description="the key this request was made with")


class NewKeyOut(KeyOut):
    api_key: str = Field(description="shown once: only its hash is stored")
    revoked: str | None = Field(None, description="the key a rotation revoked")


class KeyIn(BaseModel):
    label: str | None = Field(None, max_length=MAX_LABEL)


def _out(key: KeyInfo, who_actor: str) -> KeyOut:
    return KeyOut(prefix=key.prefix, label=key.label, created_at=key.created_at,
                  revoked_at=key.revoked_at, active=key.active,
                  current=who_actor == "key:" + key.prefix)


def _forget_cached_keys(request: Request) -> None:
    # The cache maps keys to tenants for 30 s; a revoked key must fail on its next request.
    request.app.state.key_cache = KeyCache()


def _not_found(exc: TenantRefused, prefix: str) -> NotFound:
    return NotFound(str(exc), prefix=prefix)


@router.get("", response_model=list[KeyOut])
def list_keys(svc: Svc, who: Who) -> list[KeyOut]:
    return [_out(k, who.actor) for k in svc.tenants.keys(who.tenant_id)]


@router.post("", response_model=NewKeyOut, status_code=201)
def create_key(svc: Svc, who: Who, body: Annotated[KeyIn | None, Body()] = None) -> NewKeyOut:
    """A new key for this tenant (the response is the only time it is shown)."""
    label = body.label if body else None
    api_key, key = svc.tenants.create_key(who.tenant_id, svc.clock(), label)
    log.info("api_key_created", tenant=who.tenant_id, prefix=key.prefix, by=who.actor)
    return NewKeyOut(**_out(key, who.actor).model_dump(), api_key=api_key)


@router.post("/{prefix}/revoke", response_model=KeyOut,
             responses={409: {"description": "the tenant's last active key"}})
def revoke_key(prefix: str, request: Request, svc: Svc, who: Who) -> KeyOut | JSONResponse:
    """Revoke a key: it gets 401 from its next request on. The tenant's last active key
    cannot be revoked here (create or rotate first; the CLI can revoke any key)."""
    try:
        key, _ = svc.tenants.revoke_key(who.tenant_id, prefix, svc.clock(), keep_last=True)
    except LastActiveKey as exc:
        return json_error(409, "last_active_key",
                          f"{exc.prefix} is the only active key of this tenant: create "
                          "another one first, or rotate it", {"prefix": exc.prefix})
    except TenantRefused as exc:
        raise _not_found(exc, prefix) from exc
    _forget_cached_keys(request)
    log.info("api_key_revoked", tenant=who.tenant_id, prefix=key.prefix, by=who.actor)
    return _out(key, who.actor)


@router.post("/{prefix}/rotate", response_model=NewKeyOut, status_code=201,
             responses={409: {"description": "the key is already revoked"}})
def rotate_key(prefix: str, request: Request, svc: Svc, who: Who) -> NewKeyOut | JSONResponse:
    """A new key with the same label, and this one revoked at once, in one step."""
    try:
        api_key, new, old = svc.tenants.rotate_key(who.tenant_id, prefix, svc.clock())
    except KeyRevoked as exc:
        return json_error(409, "key_revoked", f"key {exc.prefix} is already revoked",
                          {"prefix": exc.prefix})
    except TenantRefused as exc:
        raise _not_found(exc, prefix) from exc
    _forget_cached_keys(request)
    log.info("api_key_rotated", tenant=who.tenant_id, revoked=old.prefix, prefix=new.prefix,
             by=who.actor)
    return NewKeyOut(**_out(new, who.actor).model_dump(), api_key=api_key, revoked=old.prefix)
