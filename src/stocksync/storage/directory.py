"""SqlTenantDirectory: storage/tenants.py behind app.tenants.TenantDirectory, one short
transaction per call, its TenantError re-raised as the application's TenantRefused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine

from stocksync.app.tenants import KeyRevoked, LastActiveKey, TenantRefused
from stocksync.storage import tenants as store
from stocksync.storage.alert_settings import StoredDestinations, destinations, save_destinations
from stocksync.storage.engine import WRITE


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except store.TenantError as exc:
        raise TenantRefused(str(exc)) from exc


class SqlTenantDirectory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        # WRITE takes SQLite's write lock first: a read followed by a write could not
        # upgrade its lock while another connection writes.
        with _refusals(), self.engine.connect().execution_options(**WRITE) as conn, \
                conn.begin():
            yield conn

    def resolve(self, ref: str) -> store.TenantRow | None:
        with self.engine.connect() as conn:
            return store.resolve_tenant(conn, ref)

    def tenants(self) -> list[store.TenantRow]:
        with self.engine.connect() as conn:
            return store.list_tenants(conn)

    def create_tenant(self, name: str, now: datetime) -> store.NewTenant:
        with self._writing() as conn:
            return store.create_tenant(conn, name, now)

    def resolve_or_create(self, ref: str, now: datetime, create: bool,
                          ) -> tuple[store.TenantRow | None, store.NewTenant | None]:
        with self._writing() as conn:
            found = store.resolve_tenant(conn, ref)
            if found is not None or not create:
                return found, None
            return None, store.create_tenant(conn, ref, now)

    def tenant_for_key(self, api_key: str) -> str | None:
        with self.engine.connect() as conn:
            return store.tenant_for_key(conn, api_key)

    def keys(self, tenant_id: str) -> list[store.KeyRow]:
        with self.engine.connect() as conn:
            return store.list_keys(conn, tenant_id)

    def create_key(self, tenant_id: str, now: datetime,
                   label: str | None = None) -> tuple[str, store.KeyRow]:
        with self._writing() as conn:
            api_key = store.add_key(conn, tenant_id, now, label)
            return api_key, store.find_key(conn, tenant_id, api_key)

    def revoke_key(self, tenant_id: str, ref: str, now: datetime, *,
                   keep_last: bool = False) -> tuple[store.KeyRow, int]:
        with self._writing() as conn:
            key = store.find_key(conn, tenant_id, ref)
            if keep_last and key.active and store.active_key_count(conn, tenant_id) == 1:
                raise LastActiveKey(key.prefix)
            key = store.revoke_key(conn, tenant_id, key.prefix, now)
            return key, store.active_key_count(conn, tenant_id)

    def alert_destinations(self, tenant_id: str) -> StoredDestinations:
        with self.engine.connect() as conn:
            return destinations(conn, tenant_id)

    def save_alert_destinations(self, tenant_id: str, sealed_webhook_url: str | None,
                                digest_to: tuple[str, ...], now: datetime) -> None:
        with self._writing() as conn:
            save_destinations(conn, tenant_id, StoredDestinations(sealed_webhook_url, digest_to),
                              now)

    def rotate_key(self, tenant_id: str, ref: str,
                   now: datetime) -> tuple[str, store.KeyRow, store.KeyRow]:
        with self._writing() as conn:
            old = store.find_key(conn, tenant_id, ref)
            if not old.active:
                raise KeyRevoked(old.prefix)
            api_key, old = store.rotate_key(conn, tenant_id, old.prefix, now)
            return api_key, store.find_key(conn, tenant_id, api_key), old
