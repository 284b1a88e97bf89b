"""Tenants and their API keys (kept only as SHA-256 hashes, with a short prefix to name them).

A tenant is named by its id (`t_<16 hex>`) or by its name, which is unique. A key is named
by its prefix (`sk_` and 7 more characters, also the `key:<prefix>` actor in the audit log):
the prefix is stored, the key never is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from stocksync.storage.tables import api_keys, publishable_keys, tenants

KEY_PREFIX = "sk_"
PUBLISHABLE_PREFIX = "pk_"  # read-only storefront keys: availability, nothing else
PREFIX_LENGTH = 10
MAX_NAME = 200
MAX_LABEL = 100
_TENANT_ID = re.compile(r"^t_[0-9a-f]{16}$")


class TenantError(ValueError):
    """A tenant or key operation that cannot be done as asked (the message says why)."""


@dataclass(frozen=True, slots=True)
class TenantRow:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewTenant:
    id: str
    name: str
    api_key: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(api_key: str) -> str:
    # API keys are 256-bit random tokens, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(api_key.encode()).hexdigest()


def check_name(name: str) -> str:
    """The name as stored (trimmed); TenantError when it cannot be a tenant name."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise TenantError(f"a tenant name must be 1 to {MAX_NAME} characters")
    if _TENANT_ID.match(name):
        raise TenantError(f"{name!r} looks like a tenant id; choose another name")
    return name


def create_tenant(conn: Connection, name: str, now: datetime,
                  label: str | None = None) -> NewTenant:
    """A new tenant and its first key; TenantError if the name is taken."""
    name = check_name(name)
    tenant_id = "t_" + secrets.token_hex(8)
    try:
        # Insert first, no read before: the unique name decides, also between two
        # concurrent creates (and a SQLite read-then-write could not upgrade its lock).
        with conn.begin_nested():
            conn.execute(insert(tenants).values(id=tenant_id, name=name, created_at=now))
    except IntegrityError as exc:
        taken = resolve_tenant(conn, name)
        raise TenantError(f"a tenant named {name!r} already exists"
                          + (f" ({taken.id})" if taken else "")) from exc
    return NewTenant(tenant_id, name, add_key(conn, tenant_id, now, label))


def resolve_tenant(conn: Connection, ref: str) -> TenantRow | None:
    """The tenant with this id, else the one with this name."""
    columns = (tenants.c.id, tenants.c.name, tenants.c.created_at)
    row = conn.execute(select(*columns).where(tenants.c.id == ref)).first()
    row = row or conn.execute(select(*columns).where(tenants.c.name == ref.strip())).first()
    return TenantRow(row.id, row.name, row.created_at) if row else None


def list_tenants(conn: Connection) -> list[TenantRow]:
    rows = conn.execute(select(tenants.c.id, tenants.c.name, tenants.c.created_at)
                        .order_by(tenants.c.created_at, tenants.c.id))
    return [TenantRow(r.id, r.name, r.created_at) for r in rows]


def tenant_by_name(conn: Connection, name: str) -> str | None:
    return conn.execute(select(tenants.c.id).where(tenants.c.name == name)).scalar()


# ---- keys ------------------------------------------------------------------------------

def add_key(conn: Connection, tenant_id: str, now: datetime, label: str | None = None) -> str:
    """A new key for the tenant, returned once: only its hash and prefix are kept."""
    if label is not None and len(label) > MAX_LABEL:
        raise TenantError(f"a key label must be at most {MAX_LABEL} characters")
    while True:
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = api_key[:PREFIX_LENGTH]
        conn.execute(insert(api_keys).values(key_hash=hash_key(api_key), tenant_id=tenant_id,
                                             prefix=prefix, label=label, created_at=now))
        # The prefix names the key in lists, revocations and the audit log: keep it unique
        # (checked after the insert, so the write lock is already held).
        same = conn.execute(select(func.count()).select_from(api_keys)
                            .where(api_keys.c.prefix == prefix)).scalar()
        if same == 1:
            return api_key
        conn.execute(delete(api_keys).where(api_keys.c.key_hash == hash_key(api_key)))


def tenant_for_key(conn: Connection, api_key: str) -> str | None:
    """The tenant an active key belongs to (None for an unknown or revoked key)."""
    return conn.execute(select(api_keys.c.tenant_id).where(
        api_keys.c.key_hash == hash_key(api_key), api_keys.c.revoked_at.is_(None))).scalar()


def list_keys(conn: Connection, tenant_id: str) -> list[KeyRow]:
    rows = conn.execute(select(api_keys.c.prefix, api_keys.c.label, api_keys.c.created_at,
                               api_keys.c.revoked_at)
                        .where(api_keys.c.tenant_id == tenant_id)
                        .order_by(api_keys.c.created_at, api_keys.c.prefix))
    return [KeyRow(r.prefix, r.label, r.created_at, r.revoked_at) for r in rows]


def find_key(conn: Connection, tenant_id: str, ref: str) -> KeyRow:
    """The tenant's key named by its prefix (or given whole); TenantError if none or several."""
    ref = ref.strip()
    where = (api_keys.c.key_hash == hash_key(ref) if len(ref) > PREFIX_LENGTH
             else api_keys.c.prefix == ref)
    rows = conn.execute(select(api_keys.c.prefix, api_keys.c.label, api_keys.c.created_at,
                               api_keys.c.revoked_at)
                        .where(api_keys.c.tenant_id == tenant_id, where)).all()
    if not rows:
        raise TenantError(f"no API key {ref[:PREFIX_LENGTH]!r} for this tenant "
                          f"(give the prefix shown by the key list, e.g. sk_AbCdEfG)")
    if len(rows) > 1:
        raise TenantError(f"several keys start with {ref!r}: give the whole key")
    r = rows[0]
    return KeyRow(r.prefix, r.label, r.created_at, r.revoked_at)


def revoke_key(conn: Connection, tenant_id: str, ref: str, now: datetime) -> KeyRow:
    """Revoke a key at once (revoking a revoked key changes nothing)."""
    key = find_key(conn, tenant_id, ref)
    if key.revoked_at is not None:
        return key
    conn.execute(update(api_keys).where(api_keys.c.tenant_id == tenant_id,
                                        api_keys.c.prefix == key.prefix,
                                        api_keys.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    return KeyRow(key.prefix, key.label, key.created_at, now)


def rotate_key(conn: Connection, tenant_id: str, ref: str, now: datetime) -> tuple[str, KeyRow]:
    """A new key with the old one's label, and the old one revoked, in one transaction."""
    old = find_key(conn, tenant_id, ref)
    if old.revoked_at is not None:
        raise TenantError(f"key {old.prefix} is already revoked; create a new one instead")
    new_key = add_key(conn, tenant_id, now, old.label)
    return new_key, revoke_key(conn, tenant_id, old.prefix, now)


def active_key_count(conn: Connection, tenant_id: str) -> int:
    return len([k for k in list_keys(conn, tenant_id) if k.active])


def log_head(conn: Connection, tenant_id: str) -> int:
    return int(conn.execute(select(tenants.c.log_head).where(
        tenants.c.id == tenant_id)).scalar() or 0)


# ---- publishable (read-only) keys --------------------------------------------------------

def add_publishable_key(conn: Connection, tenant_id: str, now: datetime,
                        label: str | None = None) -> str:
    """A new read-only key, returned once: like a secret key, only its hash is kept."""
    if label is not None and len(label) > MAX_LABEL:
        raise TenantError(f"a key label must be at most {MAX_LABEL} characters")
    while True:
        key = PUBLISHABLE_PREFIX + secrets.token_urlsafe(24)
        try:  # the prefix names the key: a (rare) taken prefix draws again
            with conn.begin_nested():
                conn.execute(insert(publishable_keys).values(
                    key_hash=hash_key(key), tenant_id=tenant_id, prefix=key[:PREFIX_LENGTH],
                    label=label, created_at=now))
            return key
        except IntegrityError:
            continue


def list_publishable_keys(conn: Connection, tenant_id: str) -> list[KeyRow]:
    k = publishable_keys.c
    rows = conn.execute(select(k.prefix, k.label, k.created_at, k.revoked_at)
                        .where(k.tenant_id == tenant_id).order_by(k.created_at, k.prefix))
    return [KeyRow(r.prefix, r.label, r.created_at, r.revoked_at) for r in rows]


def revoke_publishable_key(conn: Connection, tenant_id: str, prefix: str,
                           now: datetime) -> KeyRow:
    """Revoke the tenant's read-only key named by its prefix (again: no change)."""
    k = publishable_keys.c
    prefix = prefix.strip()[:PREFIX_LENGTH]
    found = [key for key in list_publishable_keys(conn, tenant_id) if key.prefix == prefix]
    if not found:
        raise TenantError(f"no publishable key {prefix!r} for this tenant (give the prefix "
                          "shown by the key list, e.g. pk_AbCdEfG)")
    if found[0].revoked_at is not None:
        return found[0]
    conn.execute(update(publishable_keys).where(k.tenant_id == tenant_id, k.prefix == prefix)
                 .values(revoked_at=now))
    return KeyRow(prefix, found[0].label, found[0].created_at, now)


def tenant_for_publishable_key(conn: Connection, key: str) -> str | None:
    k = publishable_keys.c
    return conn.execute(select(k.tenant_id).where(k.key_hash == hash_key(key),
                                                  k.revoked_at.is_(None))).scalar()
