"""Publishable keys: read-only keys for storefront pages and agents, made and revoked with
the tenant's secret key. They read availability (GET /storefront/v1/...) and nothing else;
the key itself is shown once, only its hash is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from stocksync.api.deps import Svc, Who
from stocksync.core.errors import NotFound
from stocksync.storage import tenants as store
from stocksync.storage.engine import WRITE

router = APIRouter(prefix="/v1/publishable-keys", tags=["storefront"])
log = structlog.get_logger()


class PublishableKeyOut(BaseModel):
    prefix: str = Field(description="names the key (pk_ and 7 characters)")
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class NewPublishableKeyOut(PublishableKeyOut):
    publishable_key: str = Field(description="shown once: only its hash is stored. Safe to "
                                 "put in a page: it reads availability, nothing else")


class PublishableKeyIn(BaseModel):
    label: str | None = Field(None, max_length=store.MAX_LABEL)


def _out(key: store.KeyRow) -> PublishableKeyOut:
    return PublishableKeyOut(prefix=key.prefix, label=key.label, created_at=key.created_at,
                             revoked_at=key.revoked_at, active=key.active)


@router.get("", response_model=list[PublishableKeyOut])
def list_publishable_keys(svc: Svc, who: Who) -> list[PublishableKeyOut]:
    with svc.engine.connect() as conn:
        return [_out(k) for k in store.list_publishable_keys(conn, who.tenant_id)]


@router.post("", response_model=NewPublishableKeyOut, status_code=201)
def create_publishable_key(svc: Svc, who: Who, body: Annotated[
        PublishableKeyIn | None, Body()] = None) -> NewPublishableKeyOut:
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        key = store.add_publishable_key(conn, who.tenant_id, svc.clock(),
                                        body.label if body else None)
        row = next(k for k in store.list_publishable_keys(conn, who.tenant_id)
                   if k.prefix == key[:store.PREFIX_LENGTH])
    log.info("publishable_key_created", tenant=who.tenant_id, prefix=row.prefix, by=who.actor)
    return NewPublishableKeyOut(**_out(row).model_dump(), publishable_key=key)


@router.post("/{prefix}/revoke", response_model=PublishableKeyOut)
def revoke_publishable_key(prefix: str, request: Request, svc: Svc,
                           who: Who) -> PublishableKeyOut:
    """Revoke at once: the key gets 401 from its next request on."""
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        try:
            key = store.revoke_publishable_key(conn, who.tenant_id, prefix, svc.clock())
        except store.TenantError as exc:
            raise NotFound(str(exc), prefix=prefix) from exc
    request.app.state.storefront.forget_keys()
    log.info("publishable_key_revoked", tenant=who.tenant_id, prefix=key.prefix, by=who.actor)
    return _out(key)
