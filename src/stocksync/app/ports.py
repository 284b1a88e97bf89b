"""Ports the application depends on; adapters live in storage/, bus/ and channels/."""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol


class Doorbell(Protocol):
    """Wakes consumers when something changed. It carries no data: the ledger is the truth,
    so a lost ring costs at most one sweep interval. MemoryBus rings in-process; a
    PostgreSQL LISTEN/NOTIFY bridge (and later NATS JetStream) carries rings across
    processes by ringing the local bus."""

    def ring(self, topic: str) -> None: ...

    def subscribe(self, topic: str) -> threading.Event: ...

    def unsubscribe(self, topic: str, bell: threading.Event) -> None: ...

    def subscribe_async(self, topic: str) -> asyncio.Event: ...

    def unsubscribe_async(self, topic: str, bell: asyncio.Event) -> None: ...
