"""Stateful: the SQL store (SQLite and PostgreSQL) and the pure model, driven by the same
commands, agree on every refusal and every level; and `verify` agrees with both."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from stocksync.app import handlers as h
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.bootstrap import sql_service
from stocksync.core import commands as c
from stocksync.core import ledger, reservations
from stocksync.core.catalog import Item, Location
from stocksync.core.errors import DomainError
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationStatus
from stocksync.storage.sequencer import drain
from tests.conftest import new_tenant

LOCS = ["WH", "NYC"]
SKU = "SKU-1"
TTL = timedelta(minutes=1)
_tenants = itertools.count()


def test_sql_store_matches_the_pure_model(svc: Stocksync) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = sql_service(svc.engine, svc.settings, lambda: clock[0])

    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.tenant = new_tenant(store, f"prop-{next(_tenants)}").id
            with store.uow(self.tenant) as uow:
                for loc in LOCS:
                    uow.catalog.put_location(Location(loc, loc), clock[0])
                uow.catalog.put_item(Item(SKU), clock[0])
                uow.commit()
            self.model = {loc: Level(SKU, loc) for loc in LOCS}
            self.holds: dict[str, Reservation] = {}

        def _sql(self, fn: object) -> DomainError | object:
            ctx = WriteContext(tenant_id=self.tenant, now=clock[0])
            try:
                with store.uow(self.tenant) as uow:
                    result = fn(uow, ctx)  # type: ignore[operator]
                    uow.commit()
                    return result
            except DomainError as exc:
                return exc

        def _model(self, loc: str, events: list[object]) -> None:
            self.model[loc] = ledger.fold(self.model[loc], events)  # type: ignore[arg-type]

        @rule(kind=st.sampled_from(["receive", "adjust", "sale", "count"]),
              loc=st.sampled_from(LOCS), n=st.integers(-2, 8))
        def movement(self, kind: str, loc: str, n: int) -> None:
            clock[0] += timedelta(seconds=1)
            cmd = {"receive": c.Receive(n), "adjust": c.Adjust(n), "sale": c.Sell(n),
                   "count": c.Count(n, clock[0])}[kind]
            try:
                expected: list[object] | DomainError = ledger.decide(self.model[loc], cmd)
            except DomainError as exc:
                expected = exc
            got = self._sql(lambda uow, ctx: h.record_movement(
                uow, ctx, h.Movement(kind, SKU, loc, n, occurred_at=clock[0])))
            if isinstance(expected, DomainError):
                assert isinstance(got, DomainError) and got.code == expected.code, (got, expected)
            else:
                assert not isinstance(got, DomainError), got
                self._model(loc, expected)

        @rule(src=st.sampled_from(LOCS), n=st.integers(1, 6))
        def transfer(self, src: str, n: int) -> None:
            dst = LOCS[1 - LOCS.index(src)]
            try:
                legs: list[object] | DomainError = ledger.transfer(
                    self.model[src], self.model[dst], c.Transfer(n))
            except DomainError as exc:
                legs = exc
            got = self._sql(lambda uow, ctx: h.record_movement(
                uow, ctx, h.Movement("transfer", SKU, src, n, to_location=dst)))
            assert isinstance(got, DomainError) == isinstance(legs, DomainError), got
            if not isinstance(legs, DomainError):
                self._model(src, [legs[0]])
                self._model(dst, [legs[1]])

        @rule(loc=st.sampled_from(LOCS), n=st.integers(1, 6))
        def reserve(self, loc: str, n: int) -> None:
            got = self._sql(lambda uow, ctx: h.reserve(
                uow, ctx, h.NewReservation(SKU, n, loc), TTL))
            fits = n <= self.model[loc].available
            assert isinstance(got, DomainError) != fits, got
            if fits:
                res = got.reservation  # type: ignore[attr-defined]
                self.holds[res.id] = res
                self._model(loc, reservations.reserve(
                    self.model[loc], c.Reserve(res.id, n, TTL), clock[0]))

        @rule(data=st.data(), to=st.sampled_from([ReservationStatus.COMMITTED,
                                                  ReservationStatus.RELEASED]))
        def resolve(self, data: st.DataObject, to: ReservationStatus) -> None:
            if not self.holds:
                return
            rid = data.draw(st.sampled_from(sorted(self.holds)))
            res = self.holds[rid]
            decide = reservations.commit if to is ReservationStatus.COMMITTED else \
                reservations.release
            try:
                expected: list[object] | DomainError = decide(res, clock[0])
            except DomainError as exc:
                expected = exc
            got = self._sql(lambda uow, ctx: h.resolve_reservation(uow, ctx, rid, to))
            if isinstance(expected, DomainError):
                assert isinstance(got, DomainError) or res.status is to
            else:
                assert not isinstance(got, DomainError), got
                self._model(res.location, expected)
                self.holds[rid] = Reservation(res.id, res.sku, res.location, res.quantity, to,
                                              res.expires_at)

        @rule()
        def time_passes_and_holds_expire(self) -> None:
            clock[0] += TTL + timedelta(seconds=1)
            store.expire_due(tenant_id=self.tenant)
            for rid, res in list(self.holds.items()):
                if res.is_live(clock[0]) or res.status is not ReservationStatus.ACTIVE:
                    continue
                self._model(res.location, reservations.expire(res, clock[0]))
                self.holds[rid] = Reservation(res.id, res.sku, res.location, res.quantity,
                                              ReservationStatus.EXPIRED, res.expires_at)

        @invariant()
        def levels_agree(self) -> None:
            with store.uow(self.tenant, write=False) as uow:
                stored = {lv.location: lv for lv in uow.ledger.stored_levels()}
            for loc, want in self.model.items():
                have = stored.get(loc, Level(SKU, loc))
                assert (have.on_hand, have.reserved, have.version) == \
                    (want.on_hand, want.reserved, want.version), (loc, have, want)

        def teardown(self) -> None:
            drain(store.engine)
            report = store.verify(self.tenant)
            assert report.ok, [m.describe() for m in report.mismatches]

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=20, stateful_step_count=25, deadline=None))
