"""Request and response bodies of the v1 API (validated at the edge)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from stocksync.core.catalog import Image, Item
from stocksync.core.ledger import MAX_QUANTITY, Level
from stocksync.core.skus import LOCATION_PATTERN, SKU_PATTERN

Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=["TEE-BLK-M"])]
LocationCode = Annotated[str, Field(pattern=LOCATION_PATTERN, examples=["WH_MAIN"])]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
MAX_INT64 = 2**63 - 1  # log positions, versions and ids are 64-bit in the database
Position = Annotated[int, Field(ge=0, le=MAX_INT64)]


def _storable_time(moment: datetime) -> datetime:
    """An aware time must exist in UTC too: 0001-01-01T00:30+01:00 does not."""
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("the time is outside years 1-9999 once converted to UTC") from exc
    return moment


Moment = Annotated[datetime, AfterValidator(_storable_time)]


def _no_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_nul(item)


def _gtin(code: str) -> str:
    """EAN-8, UPC-A (12), EAN-13 and GTIN-14 with a valid GS1 check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        raise ValueError("a barcode is 8, 12, 13 or 14 digits (EAN/UPC/GTIN)")
    digits = [int(d) for d in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise ValueError(f"barcode {code} has a wrong check digit")
    return code


Barcode = Annotated[str, AfterValidator(_gtin)]


class Strict(BaseModel):
    """Request bodies: unknown fields refused, and no NUL in any text (PostgreSQL's text
    and JSON types cannot hold one)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        _no_nul(value)
        return value


class ImageIn(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://")]
    alt: Annotated[str | None, Field(max_length=500)] = None


class ItemIn(Strict):
    title: Annotated[str | None, Field(max_length=500)] = None
    description: Annotated[str | None, Field(max_length=20000)] = None
    brand: Annotated[str | None, Field(max_length=200)] = None
    gender: Annotated[str | None, Field(max_length=50)] = None
    material: Annotated[str | None, Field(max_length=200)] = None
    garment_type: Annotated[str | None, Field(max_length=200)] = None
    size: Annotated[str | None, Field(max_length=50)] = None
    colour: Annotated[str | None, Field(max_length=100)] = None
    attributes: dict[Annotated[str, Field(max_length=100)],
                     Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict,
                                                                     max_length=100)
    barcodes: Annotated[list[Barcode], Field(max_length=20)] = Field(default_factory=list)
    images: Annotated[list[ImageIn], Field(max_length=50)] = Field(default_factory=list)
    price: Annotated[Decimal | None, Field(ge=0, max_digits=14, decimal_places=4)] = None
    compare_at_price: Annotated[Decimal | None,
                                Field(ge=0, max_digits=14, decimal_places=4)] = None
    currency: Annotated[str | None, Field(pattern=r"^[A-Z]{3}$")] = None

    def to_item(self, sku: str) -> Item:
        data = self.model_dump(exclude={"images", "barcodes"})
        return Item(sku=sku, barcodes=tuple(self.barcodes),
                    images=tuple(Image(i.url, i.alt) for i in self.images), **data)


class ItemOut(BaseModel):
    sku: str
    title: str | None
    description: str | None
    brand: str | None
    gender: str | None
    material: str | None
    garment_type: str | None
    size: str | None
    colour: str | None
    attributes: dict[str, str]
    barcodes: list[str]
    images: list[ImageIn]
    price: Decimal | None
    compare_at_price: Decimal | None
    currency: str | None
    deleted: bool
    deleted_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(
            sku=item.sku, title=item.title, description=item.description, brand=item.brand,
            gender=item.gender, material=item.material, garment_type=item.garment_type,
            size=item.size, colour=item.colour, attributes=item.attributes,
            barcodes=list(item.barcodes),
            images=[ImageIn(url=i.url, alt=i.alt) for i in item.images],
            price=item.price, compare_at_price=item.compare_at_price, currency=item.currency,
            deleted=item.is_deleted, deleted_at=item.deleted_at, created_at=item.created_at,
            updated_at=item.updated_at,
        )


class LocationIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["warehouse", "store"] = "warehouse"


class LocationOut(BaseModel):
    code: str
    name: str
    kind: str


class MovementIn(Strict):
    type: Literal["receive", "adjust", "count", "sale", "transfer"]
    sku: Sku
    location: LocationCode
    quantity: Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, description=(
        "units; signed for adjust, the absolute count for count, positive otherwise"))]
    to_location: LocationCode | None = None
    reason: Annotated[str | None, Field(max_length=500)] = None
    occurred_at: Moment | None = Field(None, description="when it happened at the source; "
                                       "counts older than the newest applied are refused")
    expected_version: Annotated[int | None, Field(ge=0, le=MAX_INT64)] = None

    @model_validator(mode="after")
    def _per_type(self) -> MovementIn:
        if self.type == "adjust":
            if self.quantity == 0:
                raise ValueError("quantity: an adjustment needs a non-zero quantity")
        elif self.type == "count":
            if self.quantity < 0:
                raise ValueError("quantity: a count cannot be negative")
        elif self.quantity <= 0:
            raise ValueError(f"quantity: a {self.type} needs a positive quantity")
        if self.type == "transfer" and not self.to_location:
            raise ValueError("to_location: a transfer needs to_location")
        if self.type != "transfer" and self.to_location:
            raise ValueError("to_location: only a transfer has to_location")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at: give a time zone (e.g. 2026-01-01T10:00:00Z)")
        return self


class LevelOut(BaseModel):
    location: str
    on_hand: int
    reserved: int
    pending: int
    available: int
    version: int

    @classmethod
    def of(cls, level: Level) -> LevelOut:
        return cls(location=level.location, on_hand=level.on_hand, reserved=level.reserved,
                   pending=level.pending, available=level.available, version=level.version)


class StockOut(BaseModel):
    sku: str
    deleted: bool
    on_hand: int
    reserved: int
    available: int
    locations: list[LevelOut]
    as_of_sequence: int
    as_of: datetime


class StockListOut(BaseModel):
    items: list[StockOut]
    unknown: list[str]
    as_of_sequence: int
    as_of: datetime


class ReservationIn(Strict):
    sku: Sku
    quantity: Quantity
    location: LocationCode | None = Field(None, description="omit to let stocksync pick the "
                                          "location with most available")
    kind: Literal["cart", "checkout"] = "cart"
    ttl_seconds: Annotated[int | None, Field(ge=1, le=30 * 24 * 3600)] = None
    reference: Annotated[str | None, Field(max_length=200)] = None


class ReservationOut(BaseModel):
    id: str
    sku: str
    location: str
    quantity: int
    kind: str
    status: str
    reference: str | None
    expires_at: datetime
    created_at: datetime
    resolved_at: datetime | None


class EventOut(BaseModel):
    sequence: int | None
    event_id: str
    type: str
    sku: str | None
    location: str | None
    quantity: int
    on_hand_after: int | None
    reserved_after: int | None
    version: int | None
    data: dict[str, object]
    source: str
    actor: str | None
    idempotency_key: str | None
    correlation_id: str | None
    origin: str | None
    occurred_at: datetime
    recorded_at: datetime


class EventPage(BaseModel):
    events: list[EventOut]
    next_after: int
    head: int
