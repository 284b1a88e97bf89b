"""A daily revision budget per listing (eBay: 250 revisions per listing per calendar day).

Drops must never wait: a listing that shows more than there is oversells. Increases can:
they are spaced out so the day's budget lasts, always keeping a reserve for drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RevisionBudget:
    cap: int = 250  # revisions per listing per UTC day
    reserve: int = 50  # kept for decreases: increases stop when this many are left
    low_stock: int = 5  # drops to this or below always go at once, even from the reserve

    @property
    def increase_spacing(self) -> timedelta:
        """The gap between two increases that spreads the non-reserved budget over a day."""
        return DAY / max(self.cap - self.reserve, 1)


@dataclass(frozen=True, slots=True)
class Decision:
    send: bool
    not_before: datetime | None = None  # when an increase held back may go
    reason: str = ""


def used_today(revisions: int, day: datetime | None, now: datetime) -> int:
    """Revisions counted for `day` only count on that same UTC day."""
    return revisions if day is not None and day.date() == now.astimezone(UTC).date() else 0


def next_day(now: datetime) -> datetime:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + DAY


def decide(budget: RevisionBudget, wanted: int, shown: int | None, used: int,
           last_revision_at: datetime | None, now: datetime, *,
           repair: bool = False) -> Decision:
    """Whether to send `wanted` to a listing that shows `shown`, having used `used`
    revisions today. `repair`: `wanted` is what the listing shows after its own orders
    (a sale, a relisted cancellation), set again only because our last set may have landed
    over them; it is no increase of ours, so it is not spaced out."""
    left = budget.cap - used
    if left <= 0:
        return Decision(False, next_day(now), "daily revision cap reached")
    if repair:
        return Decision(True, reason="the listing's own orders, set again at once")
    if shown is None or (wanted <= budget.low_stock and wanted < shown):
        return Decision(True, reason="first value, or a drop to low stock: at once")
    spaced = last_revision_at is not None and now - last_revision_at < budget.increase_spacing
    if wanted < shown:
        if left > budget.reserve or not spaced:
            return Decision(True, reason="a decrease goes at once while the budget allows")
        # Budget thin and the listing still well stocked: keep the reserve for drops that
        # matter (to low stock), so the listing is never left showing too much for a day.
        assert last_revision_at is not None
        return Decision(False, last_revision_at + budget.increase_spacing,
                        "drops far from zero are spaced out once the budget is thin")
    if wanted == shown:
        return Decision(False, now + budget.increase_spacing, "nothing to change")
    if left <= budget.reserve:
        return Decision(False, next_day(now), "revisions left are kept for decreases")
    if last_revision_at is not None and now - last_revision_at < budget.increase_spacing:
        return Decision(False, last_revision_at + budget.increase_spacing,
                        "increases are spaced out to last the day")
    return Decision(True, reason="an increase within the day's budget")
