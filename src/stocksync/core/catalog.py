"""Catalog data: items (SKUs with content) and locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    title: str | None = None
    description: str | None = None
    brand: str | None = None
    gender: str | None = None
    material: str | None = None
    garment_type: str | None = None
    size: str | None = None
    colour: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    barcodes: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    cost_price: Decimal | None = None  # what the merchant pays: never sent to a channel
    currency: str | None = None
    deleted_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    name: str
    kind: LocationKind = LocationKind.WAREHOUSE
