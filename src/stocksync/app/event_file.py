"""Event files: a JSON array or JSONL of inbound events, validated at the edge.

One schema serves three uses: it is published as JSON Schema (GET /v1/schema/events.json),
`stocksync validate FILE` checks a file against it, and `stocksync replay FILE` applies one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from stocksync.core.ledger import MAX_QUANTITY
from stocksync.core.skus import LOCATION_PATTERN, SKU_PATTERN

Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
Code = Annotated[str, Field(pattern=LOCATION_PATTERN)]
Positive = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Key = Annotated[str, Field(min_length=1, max_length=200)]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    idempotency_key: Key | None = Field(None, description="defaults to the file name and line")
    occurred_at: datetime | None = None


class LocationUpserted(_Event):
    type: Literal["location.upserted"]
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["warehouse", "store"] = "warehouse"


class ItemUpserted(_Event):
    type: Literal["item.upserted"]
    sku: Sku
    title: Annotated[str | None, Field(max_length=500)] = None
    brand: Annotated[str | None, Field(max_length=200)] = None


class StockReceived(_Event):
    type: Literal["stock.received"]
    sku: Sku
    location: Code
    quantity: Positive


class StockAdjusted(_Event):
    type: Literal["stock.adjusted"]
    sku: Sku
    location: Code
    quantity: Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
    reason: Annotated[str | None, Field(max_length=500)] = None


class StockCounted(_Event):
    type: Literal["stock.counted"]
    sku: Sku
    location: Code
    quantity: Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
    occurred_at: datetime  # required: counts are ordered by when they were taken


class StockSold(_Event):
    type: Literal["stock.sold"]
    sku: Sku
    location: Code
    quantity: Positive


class StockTransferred(_Event):
    type: Literal["stock.transferred"]
    sku: Sku
    location: Code
    to_location: Code
    quantity: Positive


class StockReserved(_Event):
    type: Literal["stock.reserved"]
    reservation: Key = Field(description="a name for the hold, used by later events")
    sku: Sku
    quantity: Positive
    location: Code | None = None
    ttl_seconds: Annotated[int | None, Field(ge=1, le=30 * 24 * 3600)] = None


class ReservationResolved(_Event):
    type: Literal["stock.committed", "stock.released"]
    reservation: Key


class PosLine(BaseModel):
    sku: Sku
    quantity_change: Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]


class PosTransaction(BaseModel):
    """The POS_TRANSACTION_COMPLETE webhook body (POST /webhooks/pos/{channel})."""

    event: Literal["POS_TRANSACTION_COMPLETE"]
    timestamp: datetime
    store_id: Annotated[str, Field(min_length=1)]
    transaction_id: str | None = None
    line_items: Annotated[list[PosLine], Field(min_length=1)]


class PosTransactionEvent(_Event):
    type: Literal["pos.transaction"]
    location: Code = Field(description="the stocksync location of the till's store")
    payload: PosTransaction


class ShopifyLine(BaseModel):
    id: int
    sku: str | None = None
    quantity: Positive


class ShopifyOrder(BaseModel):
    """The part of Shopify's orders/create body stocksync reads."""

    id: int
    name: str | None = None
    created_at: datetime | None = None
    line_items: Annotated[list[ShopifyLine], Field(min_length=1)]


class ShopifyOrderEvent(_Event):
    type: Literal["shopify.order"]
    location: Code
    payload: ShopifyOrder


InboundEvent = Annotated[
    LocationUpserted | ItemUpserted | StockReceived | StockAdjusted | StockCounted
    | StockSold | StockTransferred | StockReserved | ReservationResolved
    | PosTransactionEvent | ShopifyOrderEvent,
    Field(discriminator="type"),
]
ADAPTER: TypeAdapter[Any] = TypeAdapter(InboundEvent)


def json_schema() -> dict[str, Any]:
    schema = ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stocksync inbound event"
    schema["description"] = ("One record of a stocksync event file (JSON array or JSONL), "
                             "including the inbound webhook payloads it can carry.")
    return schema


@dataclass(frozen=True, slots=True)
class Violation:
    line: int  # 1-based line (JSONL) or array index + 1
    field: str
    message: str

    def __str__(self) -> str:
        return f"record {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    event: Any


def read(path: Path) -> tuple[list[Record], list[Violation]]:
    """Parse and validate every record; return the good ones and every violation."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Violation(0, "file", str(exc))]
    raw: list[tuple[int, Any]] = []
    problems: list[Violation] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            raw = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as exc:
            return [], [Violation(exc.lineno, "json", exc.msg)]
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                raw.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(Violation(number, "json", exc.msg))
    records = []
    for number, value in raw:
        try:
            records.append(Record(number, ADAPTER.validate_python(value)))
        except ValidationError as exc:
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"]) or "record"
                problems.append(Violation(number, loc, error["msg"]))
    return records, problems
