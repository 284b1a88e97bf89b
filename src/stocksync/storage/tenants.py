"""Tenants and their API keys (kept only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from stocksync.storage.tables import api_keys, tenants

KEY_PREFIX = "sk_"


@dataclass(frozen=True, slots=True)
class NewTenant:
    id: str
    name: str
    api_key: str


def hash_key(api_key: str) -> str:
    # API keys are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_tenant(conn: Connection, name: str, now: datetime) -> NewTenant:
    tenant_id = "t_" + secrets.token_hex(8)
    conn.execute(insert(tenants).values(id=tenant_id, name=name, created_at=now))
    return NewTenant(tenant_id, name, add_key(conn, tenant_id, now))


def add_key(conn: Connection, tenant_id: str, now: datetime) -> str:
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(api_keys).values(key_hash=hash_key(api_key), tenant_id=tenant_id,
                                         prefix=api_key[:10], created_at=now))
    return api_key


def tenant_for_key(conn: Connection, api_key: str) -> str | None:
    return conn.execute(select(api_keys.c.tenant_id).where(
        api_keys.c.key_hash == hash_key(api_key))).scalar()


def tenant_by_name(conn: Connection, name: str) -> str | None:
    return conn.execute(select(tenants.c.id).where(tenants.c.name == name)
                        .order_by(tenants.c.created_at).limit(1)).scalar()


def log_head(conn: Connection, tenant_id: str) -> int:
    return int(conn.execute(select(tenants.c.log_head).where(
        tenants.c.id == tenant_id)).scalar() or 0)
