"""Every method of the application's ports exists on its SQL adapter and on its memory
twin with the same parameters, so app/ can be written against the ports alone."""

from __future__ import annotations

import inspect

import pytest

from stocksync.app import ports
from stocksync.app.tenants import TenantDirectory
from stocksync.storage.admin import SqlStoreAdmin
from stocksync.storage.catalog import SqlCatalog
from stocksync.storage.channels import SqlChannels
from stocksync.storage.directory import SqlTenantDirectory
from stocksync.storage.events import SqlEventLog
from stocksync.storage.idempotency import SqlIdempotency
from stocksync.storage.inbox import SqlInboxStore
from stocksync.storage.ledger import SqlLedger
from stocksync.storage.memory import (
    MemoryInboxStore,
    MemoryStoreAdmin,
    MemoryTenantDirectory,
    MemoryUnitOfWork,
    MemoryUnitOfWorkFactory,
)
from stocksync.storage.memory.catalog import MemoryCatalog
from stocksync.storage.memory.channels import MemoryChannels
from stocksync.storage.memory.holds import MemoryIdempotency, MemoryReservations
from stocksync.storage.memory.ledger import MemoryLedger
from stocksync.storage.memory.log import MemoryEventLog
from stocksync.storage.reservations import SqlReservations
from stocksync.storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

PAIRS = [
    (ports.Ledger, SqlLedger), (ports.Reservations, SqlReservations),
    (ports.Catalog, SqlCatalog), (ports.Idempotency, SqlIdempotency),
    (ports.EventLog, SqlEventLog), (ports.Channels, SqlChannels),
    (ports.UnitOfWork, SqlUnitOfWork), (ports.UnitOfWorkFactory, SqlUnitOfWorkFactory),
    (ports.StoreAdmin, SqlStoreAdmin), (ports.InboxStore, SqlInboxStore),
    (TenantDirectory, SqlTenantDirectory),
    (ports.Ledger, MemoryLedger), (ports.Reservations, MemoryReservations),
    (ports.Catalog, MemoryCatalog), (ports.Idempotency, MemoryIdempotency),
    (ports.EventLog, MemoryEventLog), (ports.Channels, MemoryChannels),
    (ports.UnitOfWork, MemoryUnitOfWork), (ports.UnitOfWorkFactory, MemoryUnitOfWorkFactory),
    (ports.StoreAdmin, MemoryStoreAdmin), (ports.InboxStore, MemoryInboxStore),
    (TenantDirectory, MemoryTenantDirectory),
]


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and (not name.startswith("_") or name in (
                "__call__", "__enter__", "__exit__"))}


@pytest.mark.parametrize(("port", "adapter"), PAIRS,
                         ids=[f"{p.__name__}-{a.__name__}" for p, a in PAIRS])
def test_the_adapter_has_every_method_of_its_port(port: type, adapter: type) -> None:
    wanted = _methods(port)
    assert wanted, f"{port.__name__} declares no methods"
    for name, signature in wanted.items():
        found = getattr(adapter, name, None)
        assert found is not None, f"{adapter.__name__} has no {name}"
        assert list(inspect.signature(found).parameters) == list(signature.parameters), \
            f"{adapter.__name__}.{name} takes other parameters than {port.__name__}.{name}"
