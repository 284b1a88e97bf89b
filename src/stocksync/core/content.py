"""Content sync, the pure part: per-channel settings, overrides, and the content a channel
should show for a SKU, reduced to fields that are compared by hash (smart sync)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from croniter import croniter

from stocksync.core.catalog import Item
from stocksync.core.errors import InvalidInput


class DataType(StrEnum):
    """What a merchant switches on or off per channel."""

    TITLE = "title"
    DESCRIPTION = "description"
    SEO = "seo"  # SEO title and description
    PRICE = "price"  # price and compare-at price, in the item's currency
    IMAGES = "images"  # URL + alt text, the variant's own image first
    OPTIONS = "options"  # option values of the variant (size, colour) and item specifics


class Direction(StrEnum):
    OUT = "out"  # stocksync -> channel
    IN = "in"  # channel -> stocksync
    BOTH = "both"


# The fields a channel is sent, each governed by one data type.
FIELD_TYPES: dict[str, DataType] = {
    "title": DataType.TITLE,
    "description": DataType.DESCRIPTION,
    "seo_title": DataType.SEO,
    "seo_description": DataType.SEO,
    "price": DataType.PRICE,
    "images": DataType.IMAGES,
    "options": DataType.OPTIONS,
    "aspects": DataType.OPTIONS,
}
OVERRIDE_FIELDS = ("title", "description", "aspects")
# Whether the listing is live: False once the item is soft-deleted (the listing is ended or
# unpublished), True again on restore. Not a data type: it follows `create_missing`, the
# setting by which stocksync manages listings' lives on a channel.
PUBLISHED = "published"
REALTIME = "realtime"


@dataclass(frozen=True, slots=True)
class TypeSetting:
    enabled: bool = False
    direction: Direction = Direction.OUT
    schedule: str = REALTIME  # or a cron expression: changes wait for its next fire time

    @property
    def sends(self) -> bool:
        return self.enabled and self.direction in (Direction.OUT, Direction.BOTH)

    @property
    def receives(self) -> bool:
        return self.enabled and self.direction in (Direction.IN, Direction.BOTH)

    def sendable_at(self, changed_at: datetime) -> datetime:
        """When a change made at `changed_at` may leave: at once, or the next cron fire."""
        if self.schedule == REALTIME:
            return changed_at
        nxt: datetime = croniter(self.schedule, changed_at).get_next(datetime)
        return nxt


@dataclass(frozen=True, slots=True)
class ContentSettings:
    types: Mapping[DataType, TypeSetting] = field(default_factory=dict)
    create_missing: bool = False  # publish a SKU the channel does not list (where supported)

    def of(self, t: DataType) -> TypeSetting:
        return self.types.get(t, TypeSetting())

    def for_field(self, name: str) -> TypeSetting:
        if name == PUBLISHED:
            return TypeSetting(self.create_missing, Direction.OUT)
        return self.of(FIELD_TYPES[name])

    @property
    def sends_any(self) -> bool:
        return any(s.sends for s in self.types.values())

    def as_json(self) -> dict[str, Any]:
        return {"types": {t.value: {"enabled": s.enabled, "direction": s.direction.value,
                                    "schedule": s.schedule} for t, s in self.types.items()},
                "create_missing": self.create_missing}


def settings_from_json(data: Mapping[str, Any] | None) -> ContentSettings:
    if not data:
        return ContentSettings()
    types = {DataType(k): TypeSetting(bool(v.get("enabled")), Direction(v["direction"]),
                                      v.get("schedule") or REALTIME)
             for k, v in (data.get("types") or {}).items()}
    return ContentSettings(types, bool(data.get("create_missing")))


def merge_settings(current: ContentSettings, patch: Mapping[str, Any]) -> ContentSettings:
    """Apply a PATCH body ({"types": {type: {enabled, direction, schedule}}, "create_missing"});
    a type left out keeps its setting, a key left out of a type keeps its value."""
    types = dict(current.types)
    for name, change in (patch.get("types") or {}).items():
        try:
            t = DataType(name)
        except ValueError:
            raise InvalidInput(f"unknown content data type {name!r}", field=f"types.{name}",
                               allowed=[d.value for d in DataType]) from None
        old = types.get(t, TypeSetting())
        schedule = change.get("schedule", old.schedule) or REALTIME
        if schedule != REALTIME and not croniter.is_valid(schedule):
            raise InvalidInput(f"schedule {schedule!r} is neither 'realtime' nor a cron "
                               "expression", field=f"types.{name}.schedule")
        types[t] = TypeSetting(change.get("enabled", old.enabled),
                               Direction(change.get("direction", old.direction)), schedule)
    return ContentSettings(types, bool(patch.get("create_missing", current.create_missing)))


@dataclass(frozen=True, slots=True)
class ChannelContent:
    """A SKU's content for one channel, overriding the item's own (None: the item's)."""

    sku: str
    channel: str
    title: str | None = None
    description: str | None = None
    aspects: dict[str, list[str]] | None = None
    updated_at: datetime | None = None
    source: str = "api"


def check_override_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The override fields as stored; InvalidInput naming the field otherwise."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in OVERRIDE_FIELDS:
            raise InvalidInput(f"{name!r} cannot be overridden per channel", field=name,
                               allowed=list(OVERRIDE_FIELDS))
        if value is None:
            out[name] = None
        elif name == "aspects":
            if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, list | tuple | str)
                    for k, v in value.items()):
                raise InvalidInput("aspects must map a name to a list of values",
                                   field="aspects")
            out[name] = {k: [v] if isinstance(v, str) else [str(x) for x in v]
                         for k, v in value.items()}
        elif not isinstance(value, str) or (name == "title" and len(value) > 500):
            raise InvalidInput(f"{name} must be a string" + (" of at most 500 characters"
                               if name == "title" else ""), field=name)
        else:
            out[name] = value
    return out


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.quantize(Decimal("0.01")), "f")


def content_fields(item: Item, override: ChannelContent | None) -> dict[str, Any]:
    """Every field a channel could be sent for `item`, the override winning."""
    o = override
    attrs = item.attributes
    return {
        "title": (o.title if o and o.title is not None else item.title),
        "description": (o.description if o and o.description is not None
                        else item.description),
        "seo_title": attrs.get("seo_title"),
        "seo_description": attrs.get("seo_description"),
        "price": {"amount": _money(item.price),
                  "compare_at": _money(item.compare_at_price),
                  "currency": item.currency} if item.price is not None else None,
        "images": [{"url": i.url, "alt": i.alt} for i in item.images],
        "options": {k: v for k, v in (("size", item.size), ("colour", item.colour)) if v},
        "aspects": (o.aspects if o and o.aspects is not None else None),
        PUBLISHED: not item.is_deleted,
        # Read when a listing is created (Amazon's required attributes), never compared.
        "brand": item.brand,
        "barcodes": list(item.barcodes),
    }


def digest(value: Any) -> str:
    """A short, stable hash of a field's value (what smart sync compares)."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FieldMark:
    """A field's value hash and the time that value was set at its source."""

    h: str
    at: datetime

    def as_json(self) -> dict[str, str]:
        return {"h": self.h, "at": self.at.isoformat()}


def marks_from_json(data: Mapping[str, Any] | None) -> dict[str, FieldMark]:
    return {k: FieldMark(v["h"], datetime.fromisoformat(v["at"]))
            for k, v in (data or {}).items()}


def marks_to_json(marks: Mapping[str, FieldMark]) -> dict[str, dict[str, str]]:
    return {k: m.as_json() for k, m in marks.items()}


def to_send(wanted: Mapping[str, FieldMark], has: Mapping[str, FieldMark]) -> list[str]:
    """Smart sync: the fields whose value differs from the channel's and whose source is
    newer than what the channel has (a newer channel edit is not overwritten)."""
    out = []
    for name, mark in wanted.items():
        known = has.get(name)
        if known is None or (known.h != mark.h and mark.at >= known.at):
            out.append(name)
    return sorted(out)
