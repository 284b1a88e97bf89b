"""Giving an outside consumer one tenant's events and nothing else.

JetStream reads go through consumers, and on this server generation (2.9) the API subject
that creates a consumer does not carry its filter, so permissions cannot limit what a
consumer a user creates would read. The recipe is therefore: the operator (stocksync's own
NATS user) creates a durable consumer filtered to `<prefix>.<tenant>.>`, and the tenant's
user may only pull from that consumer and acknowledge its messages: it cannot create
consumers, read the stream directly (`STREAM.MSG.GET`), subscribe to any stream subject or
publish one. For a hard wall (separate limits, no shared subject space at all) give each
tenant its own NATS account importing only its subjects (see the README).
"""

from __future__ import annotations

import json

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from stocksync.config import Settings
from stocksync.stream.subjects import tenant_filter


def tenant_consumer(settings: Settings, tenant_id: str, name: str,
                    ack_wait_seconds: float = 30.0) -> ConsumerConfig:
    return ConsumerConfig(durable_name=name,
                          filter_subject=tenant_filter(settings.nats_subject_prefix, tenant_id),
                          deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                          ack_wait=ack_wait_seconds, max_ack_pending=1000,
                          description=f"tenant {tenant_id} only")


async def ensure_tenant_consumer(js: JetStreamContext, settings: Settings, tenant_id: str,
                                 name: str) -> str:
    """Create the tenant's durable consumer (operator credentials); returns what was done."""
    try:
        info = await js.consumer_info(settings.nats_stream, name)
    except NotFoundError:
        await js.add_consumer(settings.nats_stream, tenant_consumer(settings, tenant_id, name))
        return "created"
    wanted = tenant_filter(settings.nats_subject_prefix, tenant_id)
    if info.config.filter_subject != wanted:
        raise ValueError(f"consumer {name} already exists for {info.config.filter_subject}, "
                         f"not {wanted}")
    return "exists"


def consumer_permissions(stream: str, consumer: str) -> dict[str, dict[str, list[str]]]:
    """NATS permissions of a user that may read through `consumer` only."""
    return {
        "publish": {"allow": [f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                              f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
                              f"$JS.ACK.{stream}.{consumer}.>"]},
        "subscribe": {"allow": ["_INBOX.>"]},
    }


def user_block(user: str, password: str, stream: str, consumer: str) -> str:
    """The user entry for the server's `authorization { users = [...] }` (JSON is valid
    NATS configuration syntax)."""
    entry = {"user": user, "password": password,
             "permissions": consumer_permissions(stream, consumer)}
    return json.dumps(entry, indent=2)
