"""How fresh a stock answer is, for agents that discard data older than a threshold.

Pure functions: the caller passes the times, so a test (or a cached answer) can say how old
it is at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Freshness:
    """A ledger read: where in the log and when it was taken, and how old it is now."""

    as_of: datetime
    as_of_sequence: int
    age_seconds: float
    fresh: bool

    def as_json(self) -> dict[str, object]:
        return {"as_of": self.as_of.isoformat(), "as_of_sequence": self.as_of_sequence,
                "age_seconds": round(self.age_seconds, 3), "fresh": self.fresh}


def ledger_freshness(as_of: datetime, as_of_sequence: int, now: datetime,
                     threshold_seconds: float) -> Freshness:
    """The ledger is the truth when it is read: its age is only the time since the read
    (zero for a live answer, the cache age for a stored one)."""
    age = max((now - as_of).total_seconds(), 0.0)
    return Freshness(as_of, as_of_sequence, age, age <= threshold_seconds)


def channel_fresh(age_seconds: float, lag_seconds: float, threshold_seconds: float) -> bool:
    """What a channel shows is fresh when the answer's own age plus the channel's lag (how
    long its oldest change not yet acknowledged has waited) is within the threshold."""
    return age_seconds + lag_seconds <= threshold_seconds


class OfferAvailability(StrEnum):
    """schema.org ItemAvailability values an Offer uses here."""

    IN_STOCK = "https://schema.org/InStock"
    LIMITED = "https://schema.org/LimitedAvailability"
    OUT_OF_STOCK = "https://schema.org/OutOfStock"


def offer_availability(available: int, limited_at_or_below: int) -> OfferAvailability:
    """OutOfStock at zero or less, LimitedAvailability from 1 up to the threshold
    (STOCKSYNC_AGENT_LIMITED_STOCK), InStock above it."""
    if available <= 0:
        return OfferAvailability.OUT_OF_STOCK
    if available <= limited_at_or_below:
        return OfferAvailability.LIMITED
    return OfferAvailability.IN_STOCK
