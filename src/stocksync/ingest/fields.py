"""Reading webhook bodies: the checks every platform's parser shares."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from stocksync.core.inbound import MalformedWebhook


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or MalformedWebhook naming what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedWebhook(f"body is not JSON: {exc}", field="body") from exc
    if not isinstance(payload, dict):
        raise MalformedWebhook("body must be a JSON object", field="body")
    return payload


def optional_time(value: object, where: str, standard: str = "ISO-8601") -> datetime | None:
    """None, or an aware date-time; a naive or unparseable one is malformed."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise MalformedWebhook(f"{where} must be an {standard} date-time with a timezone",
                               field=where)
    return parsed


MAX_QUANTITY = 1_000_000_000
MAX_ID = 2**63 - 1  # platforms' numeric ids are 64-bit (WordPress: BIGINT UNSIGNED)


def bounded_int(value: object, where: str, *, low: int, high: int = MAX_QUANTITY) -> int:
    """An integer (not a bool) within [low, high], or MalformedWebhook naming `where`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedWebhook(f"{where} must be an integer", field=where)
    if not low <= value <= high:
        raise MalformedWebhook(f"{where} must be between {low} and {high}", field=where)
    return value


def numeric_id(value: object, where: str) -> int:
    return bounded_int(value, where, low=1, high=MAX_ID)
