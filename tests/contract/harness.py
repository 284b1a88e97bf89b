"""A running platform simulator as the contract tests drive it, and a connector run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from stocksync.simulators.server import ServerThread

C = TypeVar("C")
T = TypeVar("T")


@dataclass
class SimulatorHarness:
    """The simulator's server and a client for its /_sim admin API (state, request log,
    faults, violations), which every platform's simulator offers alike."""

    server: ServerThread
    admin: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.admin.get("/_sim/state").json()
        return body

    def requests_where(self, field: str, value: str | None) -> list[dict[str, Any]]:
        """The requests the simulator logged, those whose `field` is `value` (all: None)."""
        records: list[dict[str, Any]] = self.admin.get("/_sim/requests").json()
        return [r for r in records if value is None or r[field] == value]

    def violations(self) -> dict[str, Any]:
        body: dict[str, Any] = self.admin.get("/_sim/violations").json()
        return body

    def faults(self, **faults: Any) -> None:
        self.admin.post("/_sim/faults", json=faults).raise_for_status()


def run_connector(make: Callable[[httpx.AsyncClient], C], work: Callable[[C], Awaitable[T]],
                  timeout: float = 5.0) -> T:
    """Run `work` with a fresh connector (and client) in its own event loop: a new
    process, as far as the connector can tell."""
    async def main() -> T:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await work(make(client))

    return asyncio.run(main())
