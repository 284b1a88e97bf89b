"""Commands: what a caller asks the ledger to do. Plain data, validated by the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Receive:
    quantity: int


@dataclass(frozen=True, slots=True)
class Adjust:
    delta: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Count:
    quantity: int
    occurred_at: datetime
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Sell:
    quantity: int


@dataclass(frozen=True, slots=True)
class Transfer:
    quantity: int


@dataclass(frozen=True, slots=True)
class Reserve:
    reservation_id: str
    quantity: int
    ttl: timedelta


LevelCommand = Receive | Adjust | Count | Sell
