"""MemoryBus: the in-process doorbell (embedded default).

The bus only says "something changed, look at the ledger"; it never carries the truth, so a
missed ring costs at most one sweep interval, never an event.
"""

from __future__ import annotations

import threading
from collections import defaultdict


class MemoryBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bells: dict[str, list[threading.Event]] = defaultdict(list)

    def subscribe(self, topic: str) -> threading.Event:
        bell = threading.Event()
        with self._lock:
            self._bells[topic].append(bell)
        return bell

    def unsubscribe(self, topic: str, bell: threading.Event) -> None:
        with self._lock:
            if bell in self._bells[topic]:
                self._bells[topic].remove(bell)

    def ring(self, topic: str) -> None:
        with self._lock:
            bells = list(self._bells[topic])
        for bell in bells:
            bell.set()
