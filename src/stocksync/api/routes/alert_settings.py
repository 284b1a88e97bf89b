"""GET/PUT /v1/settings/alerts: where this tenant's alerts and daily digest go. Unset
values fall back to the installation's (STOCKSYNC_ALERT_WEBHOOK_URL, STOCKSYNC_DIGEST_TO).

The webhook URL is a secret (whoever holds a Slack incoming-webhook URL can post to the
channel): it is stored sealed like channel credentials and only shown masked.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from stocksync.api.deps import Svc, Who
from stocksync.api.schemas import Strict

router = APIRouter(prefix="/v1/settings", tags=["settings"])
log = structlog.get_logger()
# One address: no spaces, commas or line breaks (they would reach the To: header).
ADDRESS = re.compile(r"^[^@\s,<>\"]{1,64}@[A-Za-z0-9.\-]{1,253}$")
MAX_RECIPIENTS = 20


class AlertSettingsIn(Strict):
    webhook_url: Annotated[str | None, Field(max_length=2000)] = Field(
        None, description="Slack-compatible incoming webhook (POST {\"text\": …}); "
        "null: the installation's")
    digest_to: Annotated[list[str] | None, Field(max_length=MAX_RECIPIENTS)] = Field(
        None, description="daily digest recipients; null or empty: the installation's")

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http(s) URL with a host is needed")
        return url

    @field_validator("digest_to")
    @classmethod
    def _addresses(cls, addresses: list[str] | None) -> list[str] | None:
        for address in addresses or []:
            if not ADDRESS.match(address):
                raise ValueError(f"{address!r} is not one e-mail address")
        return addresses


class AlertSettingsOut(BaseModel):
    webhook_url: str | None = Field(description="the tenant's own webhook, masked "
                                    "(scheme and host only)")
    digest_to: list[str]
    webhook_default: bool = Field(description="alerts go to the installation's webhook")
    digest_default: bool = Field(description="the digest goes to the installation's "
                                 "recipients")


def _masked(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


def _out(svc: Svc, sealed_webhook_url: str | None,
         digest_to: tuple[str, ...]) -> AlertSettingsOut:
    url = None
    if sealed_webhook_url and svc.box is not None:
        url = _masked(svc.box.open(sealed_webhook_url)["url"])
    return AlertSettingsOut(webhook_url=url, digest_to=list(digest_to),
                            webhook_default=url is None, digest_default=not digest_to)


@router.get("/alerts", response_model=AlertSettingsOut)
def get_alert_settings(svc: Svc, who: Who) -> AlertSettingsOut:
    stored = svc.tenants.alert_destinations(who.tenant_id)
    return _out(svc, stored.sealed_webhook_url, stored.digest_to)


@router.put("/alerts", response_model=AlertSettingsOut)
def put_alert_settings(body: AlertSettingsIn, svc: Svc, who: Who) -> AlertSettingsOut:
    """Replace both destinations (a field left out or null falls back to the default)."""
    assert svc.box is not None
    sealed = svc.box.seal({"url": body.webhook_url}) if body.webhook_url else None
    digest_to = tuple(dict.fromkeys(body.digest_to or ()))
    svc.tenants.save_alert_destinations(who.tenant_id, sealed, digest_to, svc.clock())
    log.info("alert_settings_changed", tenant=who.tenant_id, by=who.actor,
             own_webhook=sealed is not None, recipients=len(digest_to))
    return _out(svc, sealed, digest_to)
