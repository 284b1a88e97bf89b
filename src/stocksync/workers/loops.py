"""Background loops (sequencer, expirer) as threads with a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger()
ERROR_BACKOFF_SECONDS = 1.0


class Loop:
    """Run `step` whenever `bell` rings or every `interval` seconds. `step` returns True when
    it did work (then it runs again at once, to drain a backlog)."""

    def __init__(self, name: str, step: Callable[[], bool], interval: float,
                 bell: threading.Event | None = None) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.bell = bell or threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Loop:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.bell.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.bell.clear()
            try:
                busy = self.step()
            except Exception:  # a worker's outer loop: log, back off, carry on
                log.exception("worker_step_failed", worker=self.name)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if not busy:
                self.bell.wait(self.interval)
