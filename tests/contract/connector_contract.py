"""The contract every channel connector keeps, run against each platform's simulator.

Subclass `ConnectorContract` once per platform (in that platform's test file, beside its
quirks), as eventsourcing's persistence test cases are subclassed once per recorder: give it
the name of the fixture that starts its simulator (a harness: `add`, `faults`, `connect`)
and the few facts and hooks below. The shared tests then run for that connector; the platform's
own file keeps only what is peculiar to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar

import httpx
import pytest

from stocksync.channels.base import (
    ChannelConnector,
    DiscoversMapping,
    PushReport,
    QuantitySet,
    Rejected,
    Unavailable,
)

T = TypeVar("T")
# A simulator answering slower than the client waits: the call times out.
SLOW_MS, CLIENT_TIMEOUT_S = 400, 0.2


class Harness(Protocol):
    """A platform's simulator as its contract tests drive it (a SimulatorHarness)."""

    admin: httpx.Client

    def add(self, sku: str, quantity: int) -> object:
        """Put an item with this quantity on the platform."""
        ...

    def faults(self, **faults: Any) -> None: ...

    def connect(self, work: Callable[[Any], Awaitable[T]], **kwargs: Any) -> T:
        """Run `work` with a fresh connector (a new process, as far as it can tell)."""
        ...


class ConnectorContract:
    """The shared contract tests. Subclasses set the facts and override the hooks."""

    # The fixture (in the platform's test file) that starts its simulator: a Harness.
    harness: ClassVar[str]
    # connect() keyword arguments the platform refuses as credentials, and the message
    # its refusal is recognised by.
    wrong_credentials: ClassVar[dict[str, str]]
    refused_credentials: ClassVar[str] = ""
    # How the platform words its refusal of one item (the rejected reason starts so).
    refusal: ClassVar[str] = ""

    @pytest.fixture
    def sim(self, request: pytest.FixtureRequest) -> Harness:
        found: Harness = request.getfixturevalue(self.harness)
        return found

    # ---- hooks ---------------------------------------------------------------------------

    def seed(self, sim: Harness, stock: dict[str, int]) -> None:
        """Put these items, with these quantities, on the platform."""
        for sku, quantity in stock.items():
            sim.add(sku, quantity)

    def shown(self, sim: Harness, sku: str) -> int:
        """The quantity the platform shows for `sku` now."""
        raise NotImplementedError

    def refused_quantity(self, sim: Harness, sku: str) -> int:
        """A quantity the platform refuses for `sku` (by default a negative one)."""
        return -2

    async def push(self, c: Any, changes: list[QuantitySet]) -> PushReport:
        """Push until the platform has taken or refused every change (Amazon first
        answers "accepted, pending")."""
        report: PushReport = await c.set_quantities(changes)
        return report

    # ---- the contract ----------------------------------------------------------------------

    @staticmethod
    async def mapped(c: ChannelConnector, skus: list[str]) -> None:
        """Connectors that address items by the platform's ids look the SKUs up first."""
        if isinstance(c, DiscoversMapping):
            await c.discover_mapping(skus)

    def test_pushed_quantities_are_acknowledged_and_read_back(self, sim: Harness) -> None:
        self.seed(sim, {"MUG": 1, "CAP": 4})

        async def work(c: ChannelConnector) -> tuple[PushReport, dict[str, int]]:
            await self.mapped(c, ["MUG", "CAP"])
            report = await self.push(c, [QuantitySet("MUG", 7), QuantitySet("CAP", 0),
                                         QuantitySet("MUG", 8)])  # the last value wins
            return report, await c.fetch_quantities(["MUG", "CAP", "GHOST"])

        report, fetched = sim.connect(work)
        assert report.acknowledged == {"MUG": 8, "CAP": 0} and not report.rejected
        assert fetched == {"MUG": 8, "CAP": 0}  # a SKU the platform lacks is left out
        assert (self.shown(sim, "MUG"), self.shown(sim, "CAP")) == (8, 0)

    def test_items_the_platform_refuses_are_rejected_and_the_rest_applied(
            self, sim: Harness) -> None:
        self.seed(sim, {"OK-1": 1, "NO-1": 1})

        async def work(c: ChannelConnector) -> PushReport:
            await self.mapped(c, ["OK-1", "NO-1"])
            refused = self.refused_quantity(sim, "NO-1")
            return await self.push(c, [QuantitySet("OK-1", 5), QuantitySet("NO-1", refused)])

        report = sim.connect(work)
        assert report.acknowledged == {"OK-1": 5}
        assert set(report.rejected) == {"NO-1"}
        assert report.rejected["NO-1"].startswith(self.refusal), report.rejected
        assert (self.shown(sim, "OK-1"), self.shown(sim, "NO-1")) == (5, 1)

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_raise_unavailable_and_the_next_call_succeeds(
            self, sim: Harness, status: int) -> None:
        self.seed(sim, {"INK": 1})

        async def work(c: ChannelConnector) -> dict[str, int]:
            sim.faults(fail_next_n=1, fail_status=status)
            with pytest.raises(Unavailable):
                await self.mapped(c, ["INK"])
                await c.fetch_quantities(["INK"])
            await self.mapped(c, ["INK"])
            return await c.fetch_quantities(["INK"])

        assert sim.connect(work) == {"INK": 1}

    def test_a_call_that_times_out_raises_unavailable(self, sim: Harness) -> None:
        self.seed(sim, {"PEN": 1})

        async def read(c: ChannelConnector) -> dict[str, int]:
            await self.mapped(c, ["PEN"])
            return await c.fetch_quantities(["PEN"])

        sim.faults(latency_ms=SLOW_MS)
        with pytest.raises(Unavailable):
            sim.connect(read, timeout=CLIENT_TIMEOUT_S)
        sim.faults(latency_ms=0)
        assert sim.connect(read) == {"PEN": 1}

    def test_credentials_the_platform_refuses_are_rejected_and_nothing_changes(
            self, sim: Harness) -> None:
        self.seed(sim, {"KEY": 1})

        async def work(c: ChannelConnector) -> PushReport:
            await self.mapped(c, ["KEY"])
            return await c.set_quantities([QuantitySet("KEY", 2)])

        with pytest.raises(Rejected, match=self.refused_credentials or None):
            sim.connect(work, **self.wrong_credentials)
        assert self.shown(sim, "KEY") == 1



class KeyedConnectorContract(ConnectorContract):
    """For platforms that take an idempotency key (or delivery id) with each push."""

    def pushes(self, sim: Harness) -> list[tuple[str, str]]:
        """(key, "applied" | "replayed") of each push the platform received."""
        raise NotImplementedError

    def test_a_push_that_timed_out_is_retried_with_the_same_key_and_applied_once(
            self, sim: Harness) -> None:
        self.seed(sim, {"LAMP": 2})
        sim.admin.delete("/_sim/requests").raise_for_status()  # count this test's pushes

        async def work(c: Any) -> PushReport:
            await self.mapped(c, ["LAMP"])
            sim.faults(latency_ms=SLOW_MS)
            c.client.timeout = httpx.Timeout(CLIENT_TIMEOUT_S)
            with pytest.raises(Unavailable):  # we give up; the platform still applies it
                await c.set_quantities([QuantitySet("LAMP", 3, known=2)])
            sim.faults(latency_ms=0)
            c.client.timeout = httpx.Timeout(5.0)
            await asyncio.sleep(SLOW_MS / 1000)
            return await c.set_quantities([QuantitySet("LAMP", 3, known=2)])

        report = sim.connect(work)
        assert report.acknowledged == {"LAMP": 3} and self.shown(sim, "LAMP") == 3
        # Every attempt the platform saw carried one key, and it applied one of them (a
        # receiver that drops a request its client gave up on sees only the retry).
        pushes = self.pushes(sim)
        assert len({key for key, _ in pushes}) == 1
        assert [outcome for _, outcome in pushes].count("applied") == 1
