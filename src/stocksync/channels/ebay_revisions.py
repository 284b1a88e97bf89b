"""The eBay connector's count of its own listing revisions per UTC day (ebay.md §2, §5:
a listing may be revised at most 250 times per calendar day)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

DAILY_REVISION_CAP = 250  # revisions per listing per calendar day (ebay.md §2, §5)
REVISION_CAP_REASON = "daily revision cap reached"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RevisionCount:
    """Revisions this connector made per listing today (UTC). eBay's "calendar day" time
    zone is not documented (unconfirmed); the simulator uses UTC as well."""

    cap: int
    now: Callable[[], datetime] = utc_now
    day: date | None = None
    used: dict[str, int] = field(default_factory=dict)

    def _roll(self) -> None:
        today = self.now().date()
        if today != self.day:
            self.day, self.used = today, {}

    def of(self, listing: str) -> int:
        self._roll()
        return self.used.get(listing, 0)

    def left(self, listing: str) -> int:
        return max(0, self.cap - self.of(listing))

    def add(self, listing: str, count: int = 1) -> None:
        self.used[listing] = max(0, self.of(listing) + count)

    def at_least(self, listing: str, count: int) -> None:
        self.used[listing] = max(self.of(listing), count)
