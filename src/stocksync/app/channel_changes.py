"""What a channel did itself: its sales and restocks (from its orders) and the level changes
it reports, and how each moves what stocksync expects the channel to show.

The rule that keeps the ledger and every channel converging when a sale at the channel and
a push from stocksync cross:

1. A sale made at a channel reaches the ledger through its order, once (keyed by the
   platform's order and line ids, whether seen by webhook, poll or fetch).
2. The channel already took those units off its own stock, so the value stocksync expects
   there (`pushed`) moves by the same amount, in the same transaction as the sale.
3. A push is absolute. Where the platform offers compare-and-set (Shopify) it compares
   with the expected value, so a push that crosses a sale fails instead of erasing it; the
   lost set waits for the order that explains it (`settle_level` after the grace).
   Elsewhere a channel that sold since our last set is pushed again ("reassert"), because
   our set may have landed after that sale and erased it until its order was counted.
4. A level the channel reports is explained when it is what we expect (or what we set, or
   are setting). What is left after the grace is a change made in the channel by a person:
   `accept` records it as an adjustment (and an order that arrives later for it is netted,
   so it never counts twice); `overwrite` puts stocksync's value back.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from stocksync.app import handlers as h
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import WriteContext
from stocksync.app.service import RequestMeta, Stocksync
from stocksync.core.channel_rules import (
    ExternalChanges,
    leg_key,
    leg_of_location,
    location_legs,
    split_key,
)
from stocksync.core.channels import Channel
from stocksync.core.errors import DomainError, InsufficientStock
from stocksync.core.events import Event, EventType

log = structlog.get_logger()
TIME_RESOLUTION = timedelta(seconds=1)  # of the platforms' order timestamps


class DeadLetter(Exception):
    """Retrying cannot help (unknown SKU, oversold, malformed): park it for a person."""

    def __init__(self, message: str, *, oversold: bool = False) -> None:
        super().__init__(message)
        self.oversold = oversold  # the channel sold more than stocksync had


@dataclass(frozen=True, slots=True)
class Source:
    """Where a channel's message came from: a webhook delivery, a poll, a crossed push."""

    id: str  # the delivery id, or a poll/push reference: part of derived keys
    correlation_id: str | None = None


def meta(channel: Channel, source: Source, key: str) -> RequestMeta:
    scoped = f"ingest:{channel.code}:{key}"
    return RequestMeta(source=f"{channel.kind.value}:{channel.code}",
                       actor=f"channel:{channel.code}", idempotency_key=scoped,
                       fingerprint=hashlib.sha256(scoped.encode()).hexdigest(),
                       correlation_id=source.correlation_id)


def run_once(svc: Stocksync, channel: Channel, source: Source, key: str,
             action: Callable[[UnitOfWork, WriteContext], Any],
             remember: Callable[[Any], dict[str, Any]] | None = None) -> bool:
    """Apply once per key (False: it had been applied); a refusal dead-letters (and records
    a conflict when the channel sold more than stocksync had)."""
    try:
        return svc.apply_once(channel.tenant_id, meta(channel, source, key), action,
                              remember or summary)
    except InsufficientStock as exc:
        _oversold(svc, channel, source, key, exc)
        raise DeadLetter(f"{key}: {exc.message}", oversold=True) from exc
    except DomainError as exc:
        raise DeadLetter(f"{key}: {exc.message}") from exc


def summary(result: Any) -> dict[str, Any]:
    """What is remembered for an ingested key: where a sale was taken and of which SKU."""
    applied = getattr(result, "applied", None)
    if applied:
        return {"events": [a.event_id for a in applied],
                "locations": [a.event.location for a in applied],
                "skus": [a.event.sku for a in applied]}
    return {}


def location_for(svc: Stocksync, channel: Channel, sku: str, wanted: str | None) -> str:
    """`choose_location`, reading the levels in a transaction of its own."""
    def levels() -> dict[str, int]:
        with svc.uow(channel.tenant_id, write=False) as uow:
            return available_by_location(uow, sku, svc.clock())

    return choose_location(channel, wanted, levels)


def choose_location(channel: Channel, wanted: str | None,
                    levels: Callable[[], Mapping[str, int]]) -> str:
    """Where a channel's sale is taken: the location the payload names; else the channel's
    `online_location` setting (orders placed online carry no location); else the channel's
    location with the most available (ties: the first listed), `levels()` read only then."""
    if wanted:
        return wanted
    online = channel.settings.get("online_location")
    if online:
        return online
    locations = list(channel.rules.locations)
    found = levels()
    return max(locations, key=lambda loc: (found.get(loc, 0), -locations.index(loc)))


def available_by_location(uow: UnitOfWork, sku: str, now: datetime) -> dict[str, int]:
    return {lv.location: lv.available for lv in uow.ledger.levels([sku], now)}


def count_channel_move(uow: UnitOfWork, ctx: WriteContext, channel: Channel, sku: str,
                       location: str, delta: int, at: datetime | None, *,
                       give_back: bool = True, moves_available: bool = True) -> int:
    """In the transaction that records the channel's own sale (delta < 0) or restock: the
    channel already shows it. Part of it may have been accepted before from the channel's
    level notice: that part is given back here so the change counts once (call this
    before recording the sale, so a sale whose units the notice already took is never
    refused for lack of them). `give_back=False` for a sale the ledger refused: the
    accepted part then stays the record of those units leaving. Returns that part.

    The value the channel should show moves too, by what the transaction does to the
    ledger's available units here (`moves_available`: False when it does not, e.g. a
    committed reservation whose hold already took them). Without that, the pusher would
    find the expected value moved and the wanted one not yet (the projector computes it
    only once the sale's event is in the log) and set the old wanted value over the sale:
    a compare-and-set that succeeds, giving the sold unit back to be sold again."""
    repo = uow.channels
    legs = location_legs(channel.settings)
    leg = leg_of_location(legs, location) if legs else None
    if legs and leg is None:
        return 0  # a location no store location sells from: no target moves
    key = leg_key(sku, leg) if leg is not None else sku  # per store location, if mapped
    # Locked: what was absorbed is decided from this row and written back relative to it,
    # so a level accepted concurrently (settle_level) must come wholly before or after.
    target = repo.targets(channel.code, [key], lock=True).get(key)
    if target is None:
        return 0  # never told this channel anything about the SKU: nothing is expected
    waiting = max(delta, target.unexplained) if delta < 0 < -target.unexplained else \
        min(delta, target.unexplained) if delta > 0 < target.unexplained else 0
    included = _included(at, target.level_at, bool(waiting))
    # A level accepted earlier that this change is part of is given back here.
    absorbed = waiting if included or (at is None and waiting) else 0
    if absorbed and give_back:
        h.record_movement(uow, ctx, h.Movement(
            "adjust", sku, location, -absorbed,
            reason=f"already counted from {channel.code}'s level notice"))
    ledger_moved = delta - absorbed if give_back and moves_available else 0
    sold_here = location in (legs[leg] if leg is not None else channel.rules.locations)
    repo.channel_moved(channel.code, key, delta, absorbed, at, ctx.now, included=included,
                       wanted_delta=ledger_moved if sold_here else 0)
    return absorbed


def _included(at: datetime | None, level_at: datetime | None, awaited: bool) -> bool:
    """Whether the channel's level that stocksync last took in (at `level_at`) already
    showed a change the channel made at `at`. Platforms stamp orders and levels to the
    second (truncated), so within a second either way it is undecidable: then an accepted
    change still waiting for its order (`awaited`) says it was."""
    if at is None or level_at is None:
        return False
    if at + TIME_RESOLUTION <= level_at:
        return True
    if at >= level_at + TIME_RESOLUTION:
        return False
    return awaited


def settle_level(svc: Stocksync, channel: Channel, sku: str, value: int,
                 observed_at: datetime | None, source: Source, *,
                 take_ours: bool = False, read_at: datetime | None = None,
                 ours_before: frozenset[int] = frozenset()) -> str:
    """The channel shows `value` for `sku` (a notice, a fetch, a lost compare-and-set),
    after the grace that lets its orders count first. Returns what was done.

    `take_ours`: the value is one the pusher read itself after its compare-and-set was
    lost, and has waited on long enough: when a set of ours that landed explains it but
    it is not the expected one, it becomes the expected one. The wanted and in-flight
    values do not explain it: the set of them is the one that was lost, so a channel
    showing one of them got there by its own sale (and is settled as such).
    `read_at`: when `value` was read from the channel (the channel's sales before it are
    in it), if not at `observed_at`. `ours_before`: our values when it was read (a push of
    ours may have landed and been acknowledged since)."""
    code = channel.code
    if location_legs(channel.settings) and not take_ours:
        # Per store location: a notice names one level of several. The pusher's own reads
        # (take_ours) are per store location; notices are left to reconciliation.
        return "mapped-locations"
    with svc.uow(channel.tenant_id, write=False) as uow:
        target = uow.channels.targets(code, [sku]).get(sku)
    mine = (target.set_by_us() if take_ours else target.ours()) if target else frozenset()
    ours = set(ours_before) | mine
    if value in ours:
        log.debug("echo_ignored", channel=code, sku=sku, value=value)
        if take_ours and target is not None and value != target.pushed:
            observe(svc, channel, sku, value, observed_at, read_at)
        return "echo"
    if target is None or target.pushed is None or \
            channel.rules.external_changes is ExternalChanges.OVERWRITE:
        observe(svc, channel, sku, value, observed_at, read_at)  # the pusher puts ours back
        return "overwritten"
    expected = target.pushed
    delta = value - expected
    item, leg = split_key(sku)  # a store location's target: its group's first location
    group = location_legs(channel.settings).get(leg, ()) if leg else ()
    location = group[0] if group else location_for(svc, channel, item, None)
    movement = h.Movement("adjust", item, location, delta,
                          reason=f"changed in {code} ({expected} -> {value})")

    under = delta if location in (group or channel.rules.locations) else 0

    def accept(uow: UnitOfWork, ctx: WriteContext) -> h.MovementResult | None:
        if not uow.channels.accept_level(code, sku, value, expected, observed_at, read_at,
                                         wanted_delta=under):
            return None  # settled meanwhile (another notice, a crossed push): not twice
        return h.record_movement(uow, ctx, movement)

    try:
        run_once(svc, channel, source, f"level:{source.id}:{sku}", accept)
    except DeadLetter:
        observe(svc, channel, sku, value, observed_at, read_at)  # refused: the source wins
        raise
    return "adjusted"


def observe(svc: Stocksync, channel: Channel, sku: str, value: int,
            observed_at: datetime | None, read_at: datetime | None = None) -> None:
    with svc.uow(channel.tenant_id) as uow:
        uow.channels.observed(channel.code, sku, value, observed_at,
                                                          read_at)
        uow.commit()


def record_conflict(svc: Stocksync, channel: Channel, source: Source, key: str,
                    event: Event) -> None:
    def record(uow: UnitOfWork, ctx: WriteContext) -> None:
        uow.ledger.append(event, ctx)

    with contextlib.suppress(DomainError):  # a conflict that cannot be kept changes nothing
        svc.apply_once(channel.tenant_id, meta(channel, source, key), record, lambda _: {})


def _oversold(svc: Stocksync, channel: Channel, source: Source, key: str,
              refusal: InsufficientStock) -> None:
    details = refusal.details
    record_conflict(svc, channel, source, key + ":conflict", Event(
        EventType.CONFLICT_DETECTED, str(details.get("sku") or ""), details.get("location"), 0,
        {"attempted": "stock.sold", "channel": channel.code, "key": key,
         "reason": "the channel sold more than stocksync had available",
         "requested": details.get("requested"), "available": details.get("available")}))
