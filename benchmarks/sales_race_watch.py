"""What each platform shows while the sales race runs, sampled: a push that gives back units.

In the race stock only goes down (no receipts, restocks or returns), so a level that rises
at a platform was raised by a push: an absolute set that landed after a sale the platform
made and stocksync had not counted yet, giving that unit back to be sold again. Where the
platform offers compare-and-set (Shopify) such a set fails instead, so none may be seen
there. Sampled every PERIOD seconds, so a raise undone within one period is missed: the
count is a lower bound. The Shopify simulator counts exactly (every unit by which a set
raised a level: `raised_by_sets`), which the watcher reads at its start and end.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from benchmarks.sales_race_platforms import Platform

PERIOD = 0.25


@dataclass
class RaiseWatcher:
    found: Sequence[Platform]
    raised: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # units
    raises: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # times
    samples: int = 0
    exact: dict[str, int] = field(default_factory=dict)  # code -> raised_by_sets at start
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RaiseWatcher:
        self.exact = self._exact_counts()
        self._thread = threading.Thread(target=self._run, name="raise-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.exact = {code: n - self.exact.get(code, 0)
                      for code, n in self._exact_counts().items()}

    def _exact_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with httpx.Client(timeout=10) as http:
            for p in self.found:
                if p.kind == "shopify":
                    state = http.get(p.sim.url + "/_sim/state").json()
                    counts[p.code] = int(state.get("raised_by_sets") or 0)
        return counts

    def _run(self) -> None:
        last: dict[str, dict[str, int]] = {}
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                for p in self.found:
                    try:
                        shown = p.state(http)
                    except httpx.HTTPError:
                        continue
                    before = last.get(p.code)
                    if before is not None:
                        for sku, n in shown.items():
                            up = n - before.get(sku, n)
                            if up > 0:
                                self.raised[p.code] += up
                                self.raises[p.code] += 1
                    last[p.code] = shown
                self.samples += 1
                self._stop.wait(max(0.0, PERIOD - (time.perf_counter() - started)))

    def note(self) -> str:
        counts = ", ".join(f"{p.code} {self.raised.get(p.code, 0)}" for p in self.found)
        exact = ", ".join(f"{code} {n}" for code, n in self.exact.items())
        return (f"units given back by a push (a level seen rising while stock only falls; "
                f"{self.samples} samples every {PERIOD:g} s, a lower bound): {counts}; "
                f"counted by the simulator (every unit a set raised): {exact}")
