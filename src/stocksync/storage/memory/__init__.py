"""The memory twin of storage/: every port of app/ports.py kept in this process's memory,
with the guards of the SQL adapters (checked by tests/storage_contract/). For unit tests
and embedded use: nothing survives the process."""

from stocksync.storage.memory.admin import MemoryStoreAdmin
from stocksync.storage.memory.directory import MemoryTenantDirectory
from stocksync.storage.memory.inbox import MemoryInboxStore
from stocksync.storage.memory.store import MemoryStore
from stocksync.storage.memory.uow import MemoryUnitOfWork, MemoryUnitOfWorkFactory

__all__ = ["MemoryInboxStore", "MemoryStore", "MemoryStoreAdmin", "MemoryTenantDirectory",
           "MemoryUnitOfWork", "MemoryUnitOfWorkFactory"]
