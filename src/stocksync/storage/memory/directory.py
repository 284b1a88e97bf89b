"""MemoryTenantDirectory: tenants and their API keys (kept as hashes, named by prefix),
with the refusals of storage/tenants.py raised as the application's TenantRefused."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from stocksync.app.tenants import KeyRevoked, LastActiveKey, TenantRefused
from stocksync.storage.alert_settings import StoredDestinations
from stocksync.storage.memory.store import MemoryStore, Tx
from stocksync.storage.tenants import (
    KEY_PREFIX,
    MAX_LABEL,
    PREFIX_LENGTH,
    KeyRow,
    NewTenant,
    TenantError,
    TenantRow,
    check_name,
    hash_key,
)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    tenant_id: str
    row: KeyRow


def _check_name(name: str) -> str:
    try:
        return check_name(name)
    except TenantError as exc:
        raise TenantRefused(str(exc)) from exc


class MemoryTenantDirectory:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    # ---- tenants -------------------------------------------------------------------

    def resolve(self, ref: str) -> TenantRow | None:
        with self.store.reading() as tx:
            return _resolve(tx, ref)

    def tenants(self) -> list[TenantRow]:
        with self.store.reading() as tx:
            return sorted(tx.read("tenants").values(), key=lambda t: (t.created_at, t.id))

    def create_tenant(self, name: str, now: datetime) -> NewTenant:
        with self.store.writing() as tx:
            return _create(tx, name, now)

    def resolve_or_create(self, ref: str, now: datetime, create: bool,
                          ) -> tuple[TenantRow | None, NewTenant | None]:
        with self.store.writing() as tx:
            found = _resolve(tx, ref)
            if found is not None or not create:
                return found, None
            return None, _create(tx, ref, now)

    # ---- keys ----------------------------------------------------------------------

    def tenant_for_key(self, api_key: str) -> str | None:
        with self.store.reading() as tx:
            entry: KeyEntry | None = tx.read("api_keys").get(hash_key(api_key))
        return entry.tenant_id if entry is not None and entry.row.active else None

    def keys(self, tenant_id: str) -> list[KeyRow]:
        with self.store.reading() as tx:
            return _keys(tx, tenant_id)

    def create_key(self, tenant_id: str, now: datetime,
                   label: str | None = None) -> tuple[str, KeyRow]:
        with self.store.writing() as tx:
            api_key = _add_key(tx, tenant_id, now, label)
            return api_key, _find_key(tx, tenant_id, api_key)[1]

    def revoke_key(self, tenant_id: str, ref: str, now: datetime, *,
                   keep_last: bool = False) -> tuple[KeyRow, int]:
        with self.store.writing() as tx:
            key_hash, key = _find_key(tx, tenant_id, ref)
            active = sum(k.active for k in _keys(tx, tenant_id))
            if keep_last and key.active and active == 1:
                raise LastActiveKey(key.prefix)
            if key.active:
                key = replace(key, revoked_at=now)
                tx.write("api_keys")[key_hash] = KeyEntry(tenant_id, key)
                active -= 1
            return key, active

    def rotate_key(self, tenant_id: str, ref: str,
                   now: datetime) -> tuple[str, KeyRow, KeyRow]:
        with self.store.writing() as tx:
            old_hash, old = _find_key(tx, tenant_id, ref)
            if not old.active:
                raise KeyRevoked(old.prefix)
            api_key = _add_key(tx, tenant_id, now, old.label)
            old = replace(old, revoked_at=now)
            tx.write("api_keys")[old_hash] = KeyEntry(tenant_id, old)
            return api_key, _find_key(tx, tenant_id, api_key)[1], old

    # ---- alert destinations ----------------------------------------------------------

    def alert_destinations(self, tenant_id: str) -> StoredDestinations:
        with self.store.reading() as tx:
            found: StoredDestinations | None = tx.read("alert_settings").get(tenant_id)
        return found or StoredDestinations(None, ())

    def save_alert_destinations(self, tenant_id: str, sealed_webhook_url: str | None,
                                digest_to: tuple[str, ...], now: datetime) -> None:
        with self.store.writing() as tx:
            tx.write("alert_settings")[tenant_id] = StoredDestinations(
                sealed_webhook_url, tuple(digest_to))


def _resolve(tx: Tx, ref: str) -> TenantRow | None:
    tenants = tx.read("tenants")
    found: TenantRow | None = tenants.get(ref)
    return found or next((t for t in tenants.values() if t.name == ref.strip()), None)


def _create(tx: Tx, name: str, now: datetime, label: str | None = None) -> NewTenant:
    name = _check_name(name)
    taken = next((t for t in tx.read("tenants").values() if t.name == name), None)
    if taken is not None:
        raise TenantRefused(f"a tenant named {name!r} already exists ({taken.id})")
    tenant_id = "t_" + secrets.token_hex(8)
    tx.write("tenants")[tenant_id] = TenantRow(tenant_id, name, now)
    return NewTenant(tenant_id, name, _add_key(tx, tenant_id, now, label))


def _keys(tx: Tx, tenant_id: str) -> list[KeyRow]:
    return sorted((e.row for e in tx.read("api_keys").values() if e.tenant_id == tenant_id),
                  key=lambda k: (k.created_at, k.prefix))


def _add_key(tx: Tx, tenant_id: str, now: datetime, label: str | None) -> str:
    if label is not None and len(label) > MAX_LABEL:
        raise TenantRefused(f"a key label must be at most {MAX_LABEL} characters")
    prefixes = {e.row.prefix for e in tx.read("api_keys").values()}
    while True:  # the prefix names the key in lists and the audit log: keep it unique
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        if api_key[:PREFIX_LENGTH] not in prefixes:
            break
    tx.write("api_keys")[hash_key(api_key)] = KeyEntry(
        tenant_id, KeyRow(api_key[:PREFIX_LENGTH], label, now, None))
    return api_key


def _find_key(tx: Tx, tenant_id: str, ref: str) -> tuple[str, KeyRow]:
    ref = ref.strip()
    found = [(h, e.row) for h, e in tx.read("api_keys").items() if e.tenant_id == tenant_id
             and (h == hash_key(ref) if len(ref) > PREFIX_LENGTH else e.row.prefix == ref)]
    if not found:
        raise TenantRefused(f"no API key {ref[:PREFIX_LENGTH]!r} for this tenant "
                            f"(give the prefix shown by the key list, e.g. sk_AbCdEfG)")
    if len(found) > 1:
        raise TenantRefused(f"several keys start with {ref!r}: give the whole key")
    return found[0]
