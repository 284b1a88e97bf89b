"""POS tills: the POS_TRANSACTION_COMPLETE webhook (SPEC §3).

Body: {"event": "POS_TRANSACTION_COMPLETE", "timestamp": ISO-8601 with a zone,
"store_id": str, "line_items": [{"sku": str, "quantity_change": int}],
"transaction_id"?: str}. A negative change is a sale, a positive one a return.

Signature (our own scheme, documented for till integrators):
    X-POS-Signature: sha256=<hex HMAC-SHA256(webhook secret, raw body)>
A bare hex digest (without "sha256=") is accepted too.

Replays: only what the signature covers may decide whether a sale counts. A captured body
resent with another (unsigned) X-POS-Delivery-Id header is still the same delivery, so the
dedupe id and the sale keys come from the signed body only: transaction_id, else
"sha256:<hex sha256 of the raw body>" (which covers the signed timestamp). The inbox keeps
a delivery id for at least 48 h (STOCKSYNC_INBOX_RETENTION_HOURS), so a resend within that
time is answered "duplicate"; a body whose timestamp is more than REPLAY_WINDOW old (or more
than MAX_CLOCK_SKEW ahead) fails verification, as it could otherwise come back once its id
is forgotten. X-POS-Delivery-Id is only kept with
the stored delivery, for people.

A store_id with no location (no "store.<id>" setting and no "default_location") is not a
malformed body: the delivery is accepted and then dead-lettered with an error naming the
setting to add, so the merchant can map the store and replay it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    MalformedWebhook,
    ParsedDelivery,
)
from stocksync.core.skus import is_valid_sku
from stocksync.ingest.fields import load_object

EVENT = "POS_TRANSACTION_COMPLETE"
SIGNATURE_HEADER = "x-pos-signature"
DELIVERY_HEADER = "x-pos-delivery-id"
SIGNATURE_PREFIX = "sha256="
MAX_QUANTITY_CHANGE = 1_000_000_000
MAX_ID_LENGTH = 128  # the inbox keeps delivery ids up to 200 characters
# With the skew, well inside the shortest inbox retention (48 h): see the module docstring.
REPLAY_WINDOW = timedelta(hours=24)
MAX_CLOCK_SKEW = timedelta(minutes=5)
_ID = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


def pos_signature(secret: str, body: bytes) -> str:
    """The X-POS-Signature value a till sends for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def location_for_store(store_id: str, settings: Mapping[str, str]) -> str:
    """settings["store.<store_id>"], else settings["default_location"], else a placeholder
    that is never a location code (codes have no spaces): applying the sale then fails
    with "no location with code <this text>", which says what to fix before a replay."""
    location = settings.get(f"store.{store_id}") or settings.get("default_location")
    if not location:
        return (f"<store_id {store_id!r} is not mapped to a location: set the channel "
                f"setting 'store.{store_id}' (or 'default_location'), then replay>")
    return location


def signed_time(body: bytes) -> datetime | None:
    """The body's timestamp if it has a readable one (parse() reports any other case)."""
    try:
        payload = json.loads(body)
        value = payload.get("timestamp") if isinstance(payload, dict) else None
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


class PosParser:
    """POS_TRANSACTION_COMPLETE deliveries -> ChannelSale / ChannelReturn per line."""

    kind: ClassVar[str] = "pos"
    secret_field: ClassVar[str] = "webhook_secret"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """The signature matches and the signed timestamp is within the replay window."""
        given = headers.get(SIGNATURE_HEADER, "").strip().lower()
        if not secret or not given:
            return False
        given = given.removeprefix(SIGNATURE_PREFIX)
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            return False
        return self.within_window(body)

    def within_window(self, body: bytes) -> bool:
        at = signed_time(body)
        now = self.clock()
        return at is None or now - REPLAY_WINDOW <= at <= now + MAX_CLOCK_SKEW

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        payload = _load(body)
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise MalformedWebhook("event must be a non-empty string", field="event")
        transaction_id = _optional_id(payload.get("transaction_id"), "transaction_id")
        # Never the X-POS-Delivery-Id header: it is not signed (see the module docstring).
        delivery_id = transaction_id or body_digest(body)
        if event != EVENT:
            return ParsedDelivery(delivery_id, event[:100],
                                  [Ignored(f"POS event {event[:100]!r} is not handled")])
        occurred_at = _timestamp(payload.get("timestamp"))
        store_id = payload.get("store_id")
        if not isinstance(store_id, str) or not store_id:
            raise MalformedWebhook("store_id must be a non-empty string", field="store_id")
        location = location_for_store(store_id, settings)
        lines = payload.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise MalformedWebhook("line_items must be a non-empty list", field="line_items")
        key_base = f"pos:{delivery_id}"
        messages = [_line(line, i, key_base, location, occurred_at, transaction_id)
                    for i, line in enumerate(lines)]
        return ParsedDelivery(delivery_id, EVENT, messages)


def _line(line: object, index: int, key_base: str, location: str, occurred_at: datetime,
          reference: str | None) -> InboundMessage:
    where = f"line_items[{index}]"
    if not isinstance(line, dict):
        raise MalformedWebhook(f"{where} must be an object", field=where)
    sku = line.get("sku")
    if not isinstance(sku, str) or not is_valid_sku(sku):
        raise MalformedWebhook(
            f"{where}.sku must be 1-64 characters of letters, digits and . _ - /",
            field=f"{where}.sku")
    change = line.get("quantity_change")
    if isinstance(change, bool) or not isinstance(change, int):
        raise MalformedWebhook(f"{where}.quantity_change must be an integer",
                               field=f"{where}.quantity_change")
    if abs(change) > MAX_QUANTITY_CHANGE:
        raise MalformedWebhook(
            f"{where}.quantity_change must be within ±{MAX_QUANTITY_CHANGE:,}",
            field=f"{where}.quantity_change")
    key = f"{key_base}:{index}"
    if change < 0:
        return ChannelSale(sku=sku, quantity=-change, key=key, location=location,
                           occurred_at=occurred_at, reference=reference)
    if change > 0:
        # A till return is not tied to a sale stocksync saw, so no sale_key guard.
        return ChannelReturn(sku=sku, quantity=change, key=key, location=location,
                             sale_key=None, occurred_at=occurred_at, reference=reference)
    return Ignored(f"{where}.quantity_change is 0")


def _load(body: bytes) -> dict[str, object]:
    return load_object(body)


def _timestamp(value: object) -> datetime:
    message = "timestamp must be an ISO-8601 date-time with a timezone"
    if not isinstance(value, str):
        raise MalformedWebhook(message, field="timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedWebhook(f"{message}, got {value[:40]!r}", field="timestamp") from exc
    if parsed.tzinfo is None:
        raise MalformedWebhook(f"{message}, got {value[:40]!r}", field="timestamp")
    return parsed


def _optional_id(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedWebhook(f"{where} must be a string", field=where)
    return _check_id(value, where)


def _check_id(value: str, where: str) -> str:
    if len(value) > MAX_ID_LENGTH or not _ID.match(value):
        raise MalformedWebhook(
            f"{where} must be 1-{MAX_ID_LENGTH} printable characters without spaces",
            field=where)
    return value
