"""Orders found by polling a channel, kept in the inbox like a webhook delivery.

A poll's messages are stored before the poll cursor moves on, so an order read once is
never lost: the ingest worker applies it with the same retries and dead letters as a
webhook, and a dead-lettered order can be replayed. Identical re-reads of an order are one
delivery (its id is a hash of the messages); a changed order is a new delivery whose lines
are still applied once each, by their keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, ClassVar

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    MalformedWebhook,
    ParsedDelivery,
)

KIND = "polled"
TOPIC = "orders/poll"
_TYPES: dict[str, type[ChannelSale] | type[ChannelReturn]] = {
    "sale": ChannelSale, "return": ChannelReturn}


def order_of(message: InboundMessage) -> str:
    """The platform order a message belongs to: its key's "<kind>:<order id>" part."""
    key = getattr(message, "key", "")
    return ":".join(key.split(":")[:2]) if key else ""


def encode(messages: Sequence[InboundMessage]) -> tuple[str, bytes]:
    """(delivery id, body) for one order's sales and returns; other messages are dropped."""
    records: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, ChannelSale | ChannelReturn):
            record = {k: v.isoformat() if isinstance(v, datetime) else v
                      for k, v in asdict(m).items()}
            record["type"] = "sale" if isinstance(m, ChannelSale) else "return"
            records.append(record)
    body = json.dumps({"messages": records}, sort_keys=True, separators=(",", ":")).encode()
    return f"poll:{hashlib.sha256(body).hexdigest()[:40]}", body


class PolledParser:
    kind: ClassVar[str] = KIND
    secret_field: ClassVar[str] = ""

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return False  # never accepted over HTTP: only the poller stores these

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        try:
            records = json.loads(body)["messages"]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedWebhook(f"not a polled order: {exc}", field="body") from exc
        messages: list[InboundMessage] = []
        for record in records:
            cls = _TYPES.get(record.pop("type", None))
            if cls is None:
                messages.append(Ignored("unknown polled message"))
                continue
            if record.get("occurred_at"):
                record["occurred_at"] = datetime.fromisoformat(record["occurred_at"])
            messages.append(cls(**record))
        return ParsedDelivery(f"poll:{hashlib.sha256(body).hexdigest()[:40]}", TOPIC, messages)
