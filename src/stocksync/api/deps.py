"""Request dependencies: the service, the caller's tenant, the write context."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from stocksync.api.errors import render_domain_error
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import WriteContext
from stocksync.app.service import Outcome, RequestMeta, Stocksync
from stocksync.core.errors import InvalidInput, Unauthorized
from stocksync.storage.tenants import KEY_PREFIX

T = TypeVar("T")
KEY_CACHE_SECONDS = 30.0
MAX_IDEMPOTENCY_KEY = 255
MAX_CORRELATION_ID = 64  # the width of every correlation_id column
_VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
# A concurrent first write of the same key (PUT of a new location, item, barcode, channel
# SKU) loses the insert race with a unique violation; run again, it sees the winner's row
# and takes the replace path, so both succeed as PUT promises.
WRITE_ATTEMPTS = 3
# Declares the bearer scheme in the OpenAPI document; `caller` reads the header itself so
# that each refusal says what was wrong.
bearer = HTTPBearer(auto_error=False, description="an API key: `Bearer sk_...`")


def service(request: Request) -> Stocksync:
    svc: Stocksync = request.app.state.service
    return svc


class KeyCache:
    """API key hash → tenant, so the hot path does not read the keys table every call."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, float]] = {}

    def tenant(self, svc: Stocksync, api_key: str) -> str | None:
        hit = self._known.get(api_key)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        tenant_id = svc.tenants.tenant_for_key(api_key)
        if tenant_id is not None:
            self._known[api_key] = (tenant_id, now + KEY_CACHE_SECONDS)
        return tenant_id


@dataclass(frozen=True, slots=True)
class Caller:
    tenant_id: str
    actor: str


def caller(request: Request, svc: Annotated[Stocksync, Depends(service)],
           _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Caller:
    authorization = request.headers.get("Authorization")
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <api key>")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    cache: KeyCache = request.app.state.key_cache
    tenant_id = cache.tenant(svc, token)
    if tenant_id is None:
        raise Unauthorized("unknown API key")
    return Caller(tenant_id, "key:" + token[:10])


Svc = Annotated[Stocksync, Depends(service)]
Who = Annotated[Caller, Depends(caller)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def correlation_id(sent: str | None) -> str:
    """The caller's or platform's X-Correlation-Id when it can be stored (cut to 64
    characters), else a new one: an odd header must never fail a write or a webhook ack,
    or the platform would retry it for ever."""
    if sent and _VISIBLE_ASCII.match(sent):
        return sent[:MAX_CORRELATION_ID]
    return uuid.uuid4().hex


def request_meta(request: Request, who: Caller, idempotency_key: str | None,
                 body: BaseModel | None) -> RequestMeta:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput("Idempotency-Key must be 1 to 255 characters",
                           field="Idempotency-Key")
    canonical = body.model_dump_json().encode() if body is not None else b""
    return RequestMeta(
        source="api", actor=who.actor, idempotency_key=idempotency_key,
        fingerprint=RequestMeta.fingerprint_of(request.method, request.url.path, canonical),
        correlation_id=correlation_id(request.headers.get("X-Correlation-Id")),
        origin=request.client.host if request.client else None,
    )


def write(request: Request, svc: Stocksync, who: Caller, idempotency_key: str | None,
          body: BaseModel | None, action: Callable[[UnitOfWork, WriteContext], T],
          render: Callable[[T], tuple[int, Any]]) -> Response:
    """Run a write with idempotency and return the (original, on a retry) response."""
    meta = request_meta(request, who, idempotency_key, body)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            outcome = svc.execute(who.tenant_id, meta, action, render, render_domain_error)
            break
        except IntegrityError:
            if attempt == WRITE_ATTEMPTS:
                raise  # api.errors answers 409
    return respond(meta, outcome)


def respond(meta: RequestMeta, outcome: Outcome) -> Response:
    headers = {"X-Correlation-Id": meta.correlation_id or ""}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(outcome.body, status_code=outcome.status, headers=headers,
                    media_type="application/json")
