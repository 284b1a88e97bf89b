"""The storage contract: one suite of tests every storage implementation must pass.

Modelled on the `eventsourcing` library's persistence test cases: the cases are written
once against the ports of app/ports.py, in mixin classes; each implementation subclasses
them with its own `make_service()` (test_memory.py, test_sqlite.py, test_postgres.py).
Every test gets a fresh, empty store."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest

from stocksync.app.ports import UnitOfWork
from stocksync.app.records import Applied, WriteContext
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item, Location
from stocksync.core.events import Event, EventType

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class StorageContract(ABC):
    """What every case may use: a service on a fresh store, a tenant, stock helpers."""

    clock: Clock
    svc: Stocksync
    tenant: str
    _names = itertools.count(1)

    @abstractmethod
    def make_service(self, clock: Clock, home: object) -> AbstractContextManager[Stocksync]:
        """A service on an empty store of this implementation, closed afterwards."""

    @pytest.fixture(autouse=True)
    def _fresh_store(self, storage_home: object) -> Iterator[None]:
        """`storage_home`: what the tests of one class share (a migrated database), a
        fixture of each implementation's module."""
        self.clock = Clock()
        with self.make_service(self.clock, storage_home) as svc:
            self.svc = svc
            self.tenant = self.new_tenant()
            yield

    # ---- helpers ---------------------------------------------------------------------

    def new_tenant(self) -> str:
        return self.svc.tenants.create_tenant(f"shop-{next(self._names)}", self.clock()).id

    def ctx(self, key: str | None = None, source: str = "api") -> WriteContext:
        return WriteContext(tenant_id=self.tenant, now=self.clock(), source=source,
                            idempotency_key=key)

    def uow(self, tenant: str | None = None, write: bool = True) -> UnitOfWork:
        return self.svc.uows(tenant or self.tenant, write=write)

    def stock(self, sku: str = "TEE-1", location: str = "WH", on_hand: int = 5) -> None:
        """An item at a location with `on_hand` received, committed."""
        with self.uow() as uow:
            if uow.catalog.location(location) is None:
                uow.catalog.put_location(Location(location, location), self.clock())
            if uow.catalog.item(sku) is None:
                uow.catalog.put_item(Item(sku, title=f"Item {sku}"), self.clock())
            uow.ledger.ensure_level(sku, location, self.clock())
            if on_hand:
                assert uow.ledger.append(Event(EventType.RECEIVED, sku, location, on_hand),
                                         self.ctx()) is not None
            uow.commit()

    def append(self, event: Event, **kwargs: int) -> Applied | None:
        """Append one event in its own unit of work, committed when accepted."""
        with self.uow() as uow:
            done = uow.ledger.append(event, self.ctx(), **kwargs)
            if done is not None:
                uow.commit()
        return done

    def on_hand(self, sku: str = "TEE-1", location: str = "WH") -> int:
        with self.uow(write=False) as uow:
            return uow.ledger.level(sku, location, self.clock()).on_hand
