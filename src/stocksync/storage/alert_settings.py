"""A tenant's own alert destinations (tenant_settings); unset values fall back to the
global settings (STOCKSYNC_ALERT_WEBHOOK_URL, STOCKSYNC_DIGEST_TO)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from stocksync.storage.tables import tenant_settings


@dataclass(frozen=True, slots=True)
class StoredDestinations:
    sealed_webhook_url: str | None  # Fernet token (a Slack webhook URL is a secret)
    digest_to: tuple[str, ...]


def _destinations(row: object) -> StoredDestinations:
    sealed = getattr(row, "alert_webhook_url", None)
    digest = getattr(row, "digest_to", None) or ""
    return StoredDestinations(sealed, tuple(a for a in digest.split(",") if a))


def destinations(conn: Connection, tenant_id: str) -> StoredDestinations:
    row = conn.execute(select(tenant_settings).where(
        tenant_settings.c.tenant_id == tenant_id)).first()
    return _destinations(row)


def all_destinations(conn: Connection) -> dict[str, StoredDestinations]:
    return {r.tenant_id: _destinations(r) for r in conn.execute(select(tenant_settings))}


def save_destinations(conn: Connection, tenant_id: str, stored: StoredDestinations,
                      now: datetime) -> None:
    values = {"alert_webhook_url": stored.sealed_webhook_url,
              "digest_to": ",".join(stored.digest_to) or None, "updated_at": now}
    done = conn.execute(update(tenant_settings).where(
        tenant_settings.c.tenant_id == tenant_id).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(tenant_settings).values(tenant_id=tenant_id, **values))
