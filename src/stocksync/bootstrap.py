"""Wiring by hand: pick implementations from Settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from stocksync.app.ports import CredentialSealer
from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.core.clock import Clock
from stocksync.storage.admin import SqlStoreAdmin
from stocksync.storage.content_store import SqlContentStore
from stocksync.storage.credentials import CredentialBox, load_or_create_key
from stocksync.storage.dashboard_reads import SqlDashboardReads
from stocksync.storage.directory import SqlTenantDirectory
from stocksync.storage.engine import make_engine
from stocksync.storage.inbox import SqlInboxStore
from stocksync.storage.migrate import upgrade
from stocksync.storage.uow import SqlUnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


def credential_box(settings: Settings) -> CredentialBox:
    key = settings.secret_key or load_or_create_key(Path(settings.secret_key_file))
    return CredentialBox(key)


def build_service(settings: Settings, *, migrate: bool = True) -> Stocksync:
    engine = make_engine(settings)
    if migrate:
        upgrade(engine)
    return sql_service(engine, settings, utc_now, box=credential_box(settings))


def sql_service(engine: Engine, settings: Settings, clock: Clock,
                box: CredentialBox | None = None) -> Stocksync:
    """The service on SQL storage over `engine` (also how tests build a second service
    with its own clock on a database that already exists)."""
    svc = Stocksync(SqlUnitOfWorkFactory(engine), SqlStoreAdmin(engine), settings, clock,
                    box=box, tenants=SqlTenantDirectory(engine), inbox=SqlInboxStore(engine),
                    engine=engine)
    svc.dashboard_reads = SqlDashboardReads(engine)
    svc.content_store = SqlContentStore(engine)
    return svc


def memory_service(settings: Settings | None = None, clock: Clock = utc_now,
                   box: CredentialSealer | None = None) -> Stocksync:
    """The service on the memory twin of the storage (storage/memory/): no database, and
    nothing kept past the process. What the unit tests of app/ run on."""
    from stocksync.storage.memory import (
        MemoryInboxStore,
        MemoryStore,
        MemoryStoreAdmin,
        MemoryTenantDirectory,
        MemoryUnitOfWorkFactory,
    )

    store = MemoryStore()
    return Stocksync(MemoryUnitOfWorkFactory(store), MemoryStoreAdmin(store),
                     settings or Settings(run_workers=False), clock, box=box,
                     tenants=MemoryTenantDirectory(store), inbox=MemoryInboxStore(store))
