"""MemoryBus: the in-process doorbell (embedded default).

The bus only says "something changed, look at the ledger"; it never carries the truth, so a
missed ring costs at most one sweep interval, never an event. Threads wait on a
`threading.Event`; asyncio tasks on an `asyncio.Event` set from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict


class MemoryBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bells: dict[str, list[threading.Event]] = defaultdict(list)
        self._async: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(list))

    def subscribe(self, topic: str) -> threading.Event:
        bell = threading.Event()
        with self._lock:
            self._bells[topic].append(bell)
        return bell

    def unsubscribe(self, topic: str, bell: threading.Event) -> None:
        with self._lock:
            if bell in self._bells[topic]:
                self._bells[topic].remove(bell)

    def subscribe_async(self, topic: str) -> asyncio.Event:
        """Call from inside the event loop that will wait on the returned event."""
        bell = asyncio.Event()
        with self._lock:
            self._async[topic].append((asyncio.get_running_loop(), bell))
        return bell

    def unsubscribe_async(self, topic: str, bell: asyncio.Event) -> None:
        with self._lock:
            self._async[topic] = [(lp, b) for lp, b in self._async[topic] if b is not bell]

    def ring(self, topic: str) -> None:
        with self._lock:
            bells = list(self._bells[topic])
            async_bells = list(self._async[topic])
        for bell in bells:
            bell.set()
        for loop, abell in async_bells:
            if not loop.is_closed():
                loop.call_soon_threadsafe(abell.set)
