"""Subject layout and stream configuration (pure: no I/O).

One stream per installation holds every tenant's log. A message's subject is
`<prefix>.<tenant id>.<event type>`, and every event type has two tokens
(`stock.sold`, `item.deleted`, `conflict.detected`), so:

- `<prefix>.<tenant>.>` is one tenant's whole log (what a one-tenant consumer may read);
- `<prefix>.<tenant>.stock.*` its stock movements only;
- `<prefix>.*.stock.sold` every tenant's sales (operators only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stocksync.config import Settings

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


class BadSubject(ValueError):
    pass


def _token(value: str, what: str) -> str:
    # A dot, space, `*` or `>` in a token would let one tenant's subject match another's.
    if not _TOKEN.match(value):
        raise BadSubject(f"{what} {value!r} cannot be a subject token")
    return value


def event_subject(prefix: str, tenant_id: str, event_type: str) -> str:
    parts = event_type.split(".")
    if len(parts) != 2:  # the layout (and every filter on it) relies on two tokens
        raise BadSubject(f"event type {event_type!r} is not <kind>.<what>")
    kind = ".".join(_token(part, "event type") for part in parts)
    return f"{_token(prefix, 'prefix')}.{_token(tenant_id, 'tenant id')}.{kind}"


def tenant_filter(prefix: str, tenant_id: str) -> str:
    """Every subject of one tenant."""
    return f"{_token(prefix, 'prefix')}.{_token(tenant_id, 'tenant id')}.>"


def all_subjects(prefix: str) -> str:
    return f"{_token(prefix, 'prefix')}.>"


def tenant_of(prefix: str, subject: str) -> str | None:
    parts = subject.split(".")
    return parts[1] if len(parts) >= 3 and parts[0] == prefix else None


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What `setup.ensure_stream` creates: limits-based retention (consumers do not remove
    messages; age and size do), file storage, a deduplication window for republishes."""

    name: str
    subjects: tuple[str, ...]
    max_age_seconds: float
    max_bytes: int
    duplicate_window_seconds: float


def stream_spec(settings: Settings) -> StreamSpec:
    return StreamSpec(name=settings.nats_stream,
                      subjects=(all_subjects(settings.nats_subject_prefix),),
                      max_age_seconds=settings.nats_max_age_hours * 3600,
                      max_bytes=settings.nats_max_bytes,
                      duplicate_window_seconds=settings.nats_duplicate_window_seconds)


def channel_consumer(tenant_id: str, code: str) -> str:
    """The durable consumer a channel worker reads through (channel codes are already
    [a-z0-9_-], so the name is unique per channel)."""
    return f"channel_{_token(tenant_id, 'tenant id')}_{_token(code, 'channel code')}"
