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
