"""What a connector's content writer does: send a SKU's changed content fields (title,
description, SEO, price, images, options, item specifics) to its platform.

Writers raise the connector errors of channels/base.py: `RateLimited` and `Unavailable`
are retried with backoff by the content pusher, a refusal of one SKU is reported in
`ContentReport.rejected` with the platform's reason (not retried until the SKU changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable


@dataclass(frozen=True, slots=True)
class ContentWrite:
    """`send`: the fields to change now (name -> value, core.content.content_fields shape);
    `current`: every field stocksync has for the SKU, for platforms that replace a whole
    record (eBay's inventory item) or need a currency next to a price."""

    sku: str
    send: dict[str, Any]
    current: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ContentReport:
    written: dict[str, set[str]] = field(default_factory=dict)  # sku -> fields now there
    rejected: dict[str, str] = field(default_factory=dict)  # sku -> the platform's reason
    missing: set[str] = field(default_factory=set)  # SKUs the platform does not list
    created: dict[str, str] = field(default_factory=dict)  # sku -> the new listing's id
    calls: int = 0  # HTTP calls made (benchmarks, metrics)

    def wrote(self, sku: str, names: Sequence[str] | set[str]) -> None:
        self.written.setdefault(sku, set()).update(names)


class ContentWriter(Protocol):
    """`fields`: the content fields this platform carries (others are never sent to it)."""

    fields: ClassVar[frozenset[str]]
    max_batch: ClassVar[int]

    async def write(self, writes: Sequence[ContentWrite]) -> ContentReport: ...


@runtime_checkable
class CreatesListings(Protocol):
    """A writer that can publish a SKU its platform does not list (`create_missing`):
    validated with the platform's own rules first, each refusal in `rejected`, and the new
    listing's id in `created` (stored as the channel's id for the SKU)."""

    async def create(self, writes: Sequence[ContentWrite]) -> ContentReport: ...


C = TypeVar("C")


class WriterBase(Generic[C]):
    """What every platform's writer keeps: its connector (whose transport, ids and pacer
    it uses) and the channel's settings."""

    def __init__(self, connector: C, settings: Mapping[str, str] | None = None) -> None:
        self.connector = connector
        self.settings = dict(settings or {})
