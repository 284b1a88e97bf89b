"""A shop on the memory twin of the storage, for the unit tests of app/: a service with
its own clock, one tenant, locations, items and stock, channels; and a tiny in-memory
connector that implements the connector protocol (the contract tier tests the real ones
against the platform simulators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from stocksync.app import handlers as h
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.bootstrap import memory_service
from stocksync.channels.base import ChannelError, PushReport, QuantitySet
from stocksync.core.catalog import Item, Location
from stocksync.core.channel_rules import ChannelRules, ExternalChanges
from stocksync.core.channels import Channel, ChannelKind
from tests.storage_contract.base import Clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Shop:
    """One tenant on a fresh memory store: what the tests arrange their world with."""

    def __init__(self, locations: Sequence[str] = ("WH", "NYC")) -> None:
        self.clock = Clock(T0)
        self.svc: Stocksync = memory_service(clock=self.clock)
        self.tenant = self.svc.tenants.create_tenant("shop", self.clock()).id
        with self.svc.uow(self.tenant) as uow:
            for code in locations:
                uow.catalog.put_location(Location(code, code), self.clock())
            uow.commit()

    def ctx(self, source: str = "test") -> WriteContext:
        return WriteContext(tenant_id=self.tenant, now=self.clock(), source=source)

    def item(self, sku: str, **stock: int) -> None:
        """An item with `stock` received per location (WH=5, NYC=2, ...)."""
        with self.svc.uow(self.tenant) as uow:
            uow.catalog.put_item(Item(sku, title=sku), self.clock())
            for location, quantity in stock.items():
                h.record_movement(uow, self.ctx(), h.Movement("receive", sku, location,
                                                             quantity))
            uow.commit()

    def move(self, movement: h.Movement) -> h.MovementResult:
        with self.svc.uow(self.tenant) as uow:
            done = h.record_movement(uow, self.ctx(), movement)
            uow.commit()
        return done

    def available(self, sku: str, location: str = "WH") -> int:
        with self.svc.uow(self.tenant, write=False) as uow:
            return uow.ledger.level(sku, location, self.clock()).available

    def on_hand(self, sku: str, location: str = "WH") -> int:
        with self.svc.uow(self.tenant, write=False) as uow:
            return uow.ledger.level(sku, location, self.clock()).on_hand

    def channel(self, code: str = "web", kind: ChannelKind = ChannelKind.GENERIC_HTTP,
                rules: ChannelRules | None = None,
                settings: dict[str, str] | None = None) -> Channel:
        rules = rules or ChannelRules(("WH",), external_changes=ExternalChanges.ACCEPT)
        with self.svc.uow(self.tenant) as uow:
            uow.channels.add(Channel(self.tenant, code, kind, code, rules, settings or {}),
                             None, 0, self.clock())
            uow.commit()
            found = uow.channels.get(code)
        assert found is not None
        return found

    def reload(self, channel: Channel) -> Channel:
        with self.svc.uow(self.tenant, write=False) as uow:
            found = uow.channels.get(channel.code)
        assert found is not None
        return found

    def log_types(self) -> list[str]:
        self.svc.admin.drain()
        with self.svc.uow(self.tenant, write=False) as uow:
            return [e.type for e in uow.log.page(0, 1000)]


@dataclass
class FakeConnector:
    """An in-memory channel: it shows `shown` per SKU and sets what it is told. `fail`
    raises on the next call; SKUs in `refuse` are rejected, in `slow` left pending."""

    kind: ClassVar[str] = "generic_http"
    max_batch: ClassVar[int] = 2
    shown: dict[str, int] = field(default_factory=dict)
    calls: list[list[QuantitySet]] = field(default_factory=list)
    fail: ChannelError | None = None
    refuse: dict[str, str] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)

    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        self.calls.append(list(changes))
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        report = PushReport()
        for change in changes:
            if change.sku in self.refuse:
                report.rejected[change.sku] = self.refuse[change.sku]
            elif change.sku in self.slow:
                report.pending[change.sku] = self.slow[change.sku]
            else:
                self.shown[change.sku] = change.quantity
                report.acknowledged[change.sku] = change.quantity
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        return {sku: self.shown[sku] for sku in skus if sku in self.shown}
