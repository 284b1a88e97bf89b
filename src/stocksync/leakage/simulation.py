"""A discrete-event simulation of one order stream under two ways of syncing channels.

Each channel shows its own copy of each SKU's stock. A sale on a channel is taken when that
copy covers it (the channel then lowers its own copy); it is oversold when the real stock
does not. How copies catch up is the sync mode:
- `Polling(interval)`: every interval (each channel at its own phase) the channel's copies
  are set to the real stock; in between it only knows its own sales;
- `Propagation(delays)`: after each change of real stock (and after a refused sale) every
  channel receives the absolute value after a delay drawn from measured propagation
  times; its own sales made meanwhile are netted, and an older value never overwrites a
  newer one (as stocksync's pusher does).

Freshness for agents is judged as agents can judge it, from the data's age: a polled
channel's data is as old as its last poll; stocksync's is as old as the oldest change the
channel has not yet received (0 when none waits). Deterministic for a given seed.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Sale:
    at: float  # seconds from the start
    sku: str
    channel: str
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class Restock:
    at: float
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Polling:
    interval_seconds: float

    @property
    def name(self) -> str:
        minutes = self.interval_seconds / 60
        return f"polling every {minutes:g} min"


@dataclass(frozen=True, slots=True)
class Propagation:
    delays_seconds: Sequence[float]  # measured: change → channel shows it
    name: str = "stocksync (measured propagation)"


@dataclass(slots=True)
class Outcome:
    mode: str
    sales: int = 0
    oversold_orders: int = 0
    oversold_units: int = 0
    turned_away: int = 0  # the channel showed too little while the stock was there
    max_sync_latency_seconds: float = 0.0
    fresh_seconds: float = 0.0
    channel_seconds: float = 0.0
    per_channel: dict[str, int] = field(default_factory=dict)

    @property
    def fresh_share(self) -> float:
        return self.fresh_seconds / self.channel_seconds if self.channel_seconds else 0.0


@dataclass(slots=True)
class _Channel:
    shows: dict[str, int]
    own_sales: dict[str, int] = field(default_factory=dict)
    newest_applied: dict[str, float] = field(default_factory=dict)
    # Changes not received yet, (time, sku) in time order.
    waiting: list[tuple[float, str]] = field(default_factory=list)
    last_poll: float = 0.0


def simulate(mode: Polling | Propagation, sales: Sequence[Sale], restocks: Sequence[Restock],
             stock: Mapping[str, int], channels: Sequence[str], horizon_seconds: float, *,
             fresh_threshold_seconds: float = 30.0, seed: int = 0) -> Outcome:
    rng = random.Random(seed)
    truth = dict(stock)
    views = {c: _Channel(shows=dict(stock)) for c in channels}
    out = Outcome(mode=mode.name, per_channel={c: 0 for c in channels})
    queue: list[tuple[float, int, str, tuple[object, ...]]] = []
    order = 0

    def push(at: float, kind: str, *args: object) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (at, order, kind, args))

    for s in sales:
        push(s.at, "sale", s)
    for r in restocks:
        push(r.at, "restock", r)
    if isinstance(mode, Polling):
        for c in channels:  # each channel's poller runs at its own phase
            push(rng.uniform(0, mode.interval_seconds), "poll", c)

    def changed(at: float, sku: str) -> None:
        """Real stock of `sku` changed at `at`: every channel must learn it."""
        for name, view in views.items():
            view.waiting.append((at, sku))
            if isinstance(mode, Propagation):
                delay = rng.choice(mode.delays_seconds)
                out.max_sync_latency_seconds = max(out.max_sync_latency_seconds, delay)
                push(at + delay, "set", name, sku, truth.get(sku, 0), at,
                     view.own_sales.get(sku, 0))

    now = 0.0
    while queue and queue[0][0] <= horizon_seconds:
        at, _, kind, args = heapq.heappop(queue)
        _account(out, views, mode, now, at, fresh_threshold_seconds)
        now = at
        if kind == "sale":
            sale: Sale = args[0]  # type: ignore[assignment]
            _sale(out, truth, views, sale, changed)
        elif kind == "restock":
            r: Restock = args[0]  # type: ignore[assignment]
            truth[r.sku] = truth.get(r.sku, 0) + r.quantity
            changed(at, r.sku)
        elif kind == "poll":
            name = str(args[0])
            view = views[name]
            if view.waiting:
                out.max_sync_latency_seconds = max(out.max_sync_latency_seconds,
                                                   at - view.waiting[0][0])
            view.shows = dict(truth)
            view.own_sales.clear()
            view.waiting.clear()
            view.last_poll = at
            assert isinstance(mode, Polling)
            push(at + mode.interval_seconds, "poll", name)
        else:
            _set(views, *args)  # type: ignore[arg-type]
    _account(out, views, mode, now, horizon_seconds, fresh_threshold_seconds)
    return out


def _sale(out: Outcome, truth: dict[str, int], views: dict[str, _Channel], s: Sale,
          changed: Callable[[float, str], None]) -> None:
    view = views[s.channel]
    if view.shows.get(s.sku, 0) < s.quantity:
        if truth.get(s.sku, 0) >= s.quantity:
            out.turned_away += 1
        return
    out.sales += 1
    view.shows[s.sku] = view.shows.get(s.sku, 0) - s.quantity
    view.own_sales[s.sku] = view.own_sales.get(s.sku, 0) + s.quantity
    if truth.get(s.sku, 0) >= s.quantity:
        truth[s.sku] = truth.get(s.sku, 0) - s.quantity
    else:  # sold on a stale copy: cancelled later
        out.oversold_orders += 1
        out.oversold_units += s.quantity
        out.per_channel[s.channel] += s.quantity
    changed(s.at, s.sku)


def _set(views: dict[str, _Channel], name: str, sku: str, value: int, computed_at: float,
         own_then: int) -> None:
    view = views[name]
    if view.newest_applied.get(sku, -1.0) > computed_at:
        return  # a newer value arrived first: never go back
    view.newest_applied[sku] = computed_at
    view.shows[sku] = max(value - (view.own_sales.get(sku, 0) - own_then), 0)
    view.waiting = [(t, s) for t, s in view.waiting if s != sku or t > computed_at]


def _account(out: Outcome, views: dict[str, _Channel], mode: Polling | Propagation,
             start: float, end: float, threshold: float) -> None:
    """Add the channel-seconds in [start, end) and those in which each channel's data was
    young enough for an agent."""
    if end <= start:
        return
    for view in views.values():
        out.channel_seconds += end - start
        if isinstance(mode, Polling):
            stale_from = view.last_poll + threshold
        else:
            stale_from = (view.waiting[0][0] + threshold) if view.waiting else end
        out.fresh_seconds += min(max(stale_from - start, 0.0), end - start)
