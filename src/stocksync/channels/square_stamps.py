"""The occurred_at stamped on each PHYSICAL_COUNT the Square connector sends.

How Square resolves changes (developer.squareup.com/docs/inventory-api/how-it-works):
a count is "all adjustments since the last physical count" added to that count, ordered by
the client-supplied occurred_at, not by arrival. A physical count is the quantity as of its
occurred_at; adjustments that occurred later apply on top of it; adjustments and counts that
occurred earlier than the latest count are history only, even when they arrive later (the
guide's offline POS sale at 13:20 that syncs at 13:35 does not move a count made at 13:30).

So "now" is the wrong stamp for stocksync's value. The value includes every change made at
Square up to `as_of` (the newest of its own sales/restocks stocksync has counted) and none
after. Stamped `as_of` (+1 ms, since the order of a count and an adjustment with the same
occurred_at is not documented), Square replaces exactly what the value accounts for and
keeps applying on top every till sale that occurred later - including an offline sale that
occurred before our push but reaches Square after it. Stamped "now", that offline sale
would fall before the count and be erased, and stocksync would later count it from the
order while Square never shows it.

Why not ADJUSTMENT deltas: they would also keep later sales, but a delta is computed from a
value read earlier, Square has no compare-and-set, and a replayed delta applies twice;
a count stamped this way keeps sales just as well and stays idempotent.

Two floors: a count may not be older than the latest count already at Square for the item
(it would be history only: the push would change nothing), so each stamp is at least the
last one this connector sent + 1 ms, and a connector that has sent none for an item yet
asks Square for its latest physical count first; and occurred_at "cannot be older than 24
hours" (InventoryAdjustment/InventoryPhysicalCount schema), so never before now - 22 h.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

TICK = timedelta(milliseconds=1)
# Square refuses occurred_at older than 24 hours. A request that got no answer is re-sent
# with its first stamps for up to an hour (square.REPLAY_WINDOW_S): two hours of margin.
OLDEST = timedelta(hours=22)
REMEMBERED = 100_000


class CountStamps:
    """The last occurred_at sent per catalog variation (in this process)."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, datetime] = OrderedDict()

    def known(self, object_id: str) -> bool:
        return object_id in self._last

    def learn(self, object_id: str, occurred_at: datetime) -> None:
        """A count already at Square (read back after a restart)."""
        if object_id not in self._last or self._last[object_id] < occurred_at:
            self._remember(object_id, occurred_at)

    def stamp(self, object_id: str, as_of: datetime | None, now: datetime) -> datetime:
        """The occurred_at for a count of `object_id` whose value includes Square's own
        changes up to `as_of`; remembered at once, since a request that got no answer may
        still have been applied."""
        last = self._last.get(object_id)
        if as_of is None and last is None:
            moment = now  # a first count with nothing known from Square: as before
        else:
            floors = [now - OLDEST]
            if as_of is not None:
                floors.append(as_of + TICK)
            if last is not None:
                floors.append(last + TICK)
            moment = max(floors)
        self._remember(object_id, moment)
        return moment

    def _remember(self, object_id: str, moment: datetime) -> None:
        self._last[object_id] = moment
        self._last.move_to_end(object_id)
        while len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
