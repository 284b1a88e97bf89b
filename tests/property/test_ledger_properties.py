"""Hypothesis on the pure core: no command sequence oversells; replay is a fold."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stocksync.core import commands as c
from stocksync.core import ledger, reservations
from stocksync.core.errors import DomainError
from stocksync.core.events import Event, effect_of
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
qty = st.integers(min_value=-3, max_value=12)
moves = st.one_of(
    st.tuples(st.just("receive"), qty), st.tuples(st.just("adjust"), qty),
    st.tuples(st.just("count"), qty), st.tuples(st.just("sell"), qty),
    st.tuples(st.just("reserve"), qty), st.tuples(st.just("commit"), st.integers(0, 9)),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("expire"), st.integers(0, 9)),
)


@given(st.lists(moves, max_size=80))
def test_no_accepted_sale_or_reservation_oversells_and_replay_matches(
        script: list[tuple[str, int]]) -> None:
    level, history = Level("SKU-1", "WH"), []
    holds: list[Reservation] = []
    for step, (kind, n) in enumerate(script):
        now = T0 + timedelta(seconds=step)
        with suppress(DomainError):  # refusing is fine, overselling is not
            events: list[Event]
            if kind in ("commit", "release", "expire"):
                if not holds:
                    continue
                res = holds[n % len(holds)]
                later = now + timedelta(hours=1) if kind == "expire" else now
                events = {"commit": reservations.commit, "release": reservations.release,
                          "expire": reservations.expire}[kind](res, later)
                holds[n % len(holds)] = Reservation(
                    res.id, res.sku, res.location, res.quantity,
                    reservations.status_after(events[0].type), res.expires_at)
            elif kind == "reserve":
                rid = f"r{step}"
                events = reservations.reserve(level, c.Reserve(rid, n, timedelta(minutes=5)),
                                              now)
                holds.append(Reservation(rid, "SKU-1", "WH", n, ReservationStatus.ACTIVE,
                                         now + timedelta(minutes=5)))
            else:
                cmd = {"receive": c.Receive(n), "adjust": c.Adjust(n), "sell": c.Sell(n),
                       "count": c.Count(n, now)}[kind]
                events = ledger.decide(level, cmd)
            history += events
            level = ledger.fold(level, events)
            if effect_of(events[0]).takes_available:
                assert level.available >= 0
            assert level.reserved == sum(h.quantity for h in holds
                                         if h.status is ReservationStatus.ACTIVE)
    assert ledger.fold(Level("SKU-1", "WH"), history) == level
    assert level.version == sum(1 for e in history)
