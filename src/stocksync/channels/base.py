"""The channel connector interface and the only errors connectors may raise.

Each connector module maps its platform's HTTP failures, in one place, to these errors:
`RateLimited` and `Unavailable` are retried with backoff and jitter by the pusher;
`Rejected` is parked and alerted, never retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class QuantitySet:
    """Set the channel's sellable quantity of `sku` to `quantity` (absolute, idempotent).
    `known` is the value stocksync last knew the channel had (for compare-and-set)."""

    sku: str
    quantity: int
    known: int | None = None


@dataclass(frozen=True, slots=True)
class PushReport:
    acknowledged: dict[str, int] = field(default_factory=dict)  # sku -> value now there
    rejected: dict[str, str] = field(default_factory=dict)  # sku -> reason (not retried)


class ChannelError(Exception):
    pass


class RateLimited(ChannelError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ChannelError):
    pass


class Rejected(ChannelError):
    def __init__(self, message: str, details: object = None) -> None:
        super().__init__(message)
        self.details = details


class ChannelConnector(Protocol):
    kind: ClassVar[str]
    max_batch: ClassVar[int]

    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport: ...

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[object]: ...
