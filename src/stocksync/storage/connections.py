"""SQL of store connections: state nonces of authorisation flows (single use, bound to
a tenant, expiring) and channels waiting in preview (tables_connections.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from stocksync.storage.tables import channels
from stocksync.storage.tables_connections import channel_previews, store_connections


@dataclass(frozen=True, slots=True)
class PendingConnection:
    tenant_id: str
    kind: str
    request: dict[str, Any]
    expires_at: datetime
    used_at: datetime | None
    channel_code: str | None
    error: str | None


def add_connection(conn: Connection, state_hash: str, tenant_id: str, kind: str,
                   request: dict[str, Any], now: datetime, expires_at: datetime) -> None:
    conn.execute(insert(store_connections).values(
        state_hash=state_hash, tenant_id=tenant_id, kind=kind, request=request,
        created_at=now, expires_at=expires_at))


def find_connection(conn: Connection, state_hash: str) -> PendingConnection | None:
    row = conn.execute(select(store_connections).where(
        store_connections.c.state_hash == state_hash)).first()
    if row is None:
        return None
    return PendingConnection(row.tenant_id, row.kind, dict(row.request), row.expires_at,
                             row.used_at, row.channel_code, row.error)


def use_connection(conn: Connection, state_hash: str, now: datetime) -> bool:
    """Mark the flow used; False when another request used it first (or it expired): the
    compare-and-set makes a state good for exactly one callback."""
    done = conn.execute(update(store_connections).where(
        store_connections.c.state_hash == state_hash, store_connections.c.used_at.is_(None),
        store_connections.c.expires_at > now).values(used_at=now))
    return done.rowcount == 1


def finish_connection(conn: Connection, state_hash: str, channel_code: str | None,
                      error: str | None) -> None:
    conn.execute(update(store_connections).where(
        store_connections.c.state_hash == state_hash).values(
        channel_code=channel_code, error=error[:2000] if error else None))


def purge_connections(conn: Connection, older_than: datetime) -> int:
    return conn.execute(delete(store_connections).where(
        store_connections.c.expires_at < older_than)).rowcount


def start_preview(conn: Connection, tenant_id: str, code: str, enabled_after: bool,
                  now: datetime) -> None:
    conn.execute(delete(channel_previews).where(_preview(tenant_id, code)))
    conn.execute(insert(channel_previews).values(
        tenant_id=tenant_id, channel_code=code, enabled_after=enabled_after, since=now))


def preview_of(conn: Connection, tenant_id: str, code: str) -> tuple[bool, datetime] | None:
    """(enabled_after, since) of a channel in preview; None when it is not in preview."""
    row = conn.execute(select(channel_previews.c.enabled_after, channel_previews.c.since)
                       .where(_preview(tenant_id, code))).first()
    return (bool(row.enabled_after), row.since) if row is not None else None


def end_preview(conn: Connection, tenant_id: str, code: str, now: datetime) -> bool:
    """Confirm: the channel gets the `enabled` it was asked with and starts pushing."""
    found = preview_of(conn, tenant_id, code)
    if found is None:
        return False
    conn.execute(delete(channel_previews).where(_preview(tenant_id, code)))
    # updated_at moves: the supervisor starts the worker, and lag counts from now.
    conn.execute(update(channels).where(channels.c.tenant_id == tenant_id,
                                        channels.c.code == code)
                 .values(enabled=found[0], updated_at=now))
    return True


def previewed_channels(conn: Connection) -> set[tuple[str, str]]:
    """Every (tenant, channel) in preview: the supervisor runs none of them."""
    return {(r.tenant_id, r.channel_code) for r in conn.execute(
        select(channel_previews.c.tenant_id, channel_previews.c.channel_code))}


def _preview(tenant_id: str, code: str) -> Any:
    return and_(channel_previews.c.tenant_id == tenant_id,
                channel_previews.c.channel_code == code)
