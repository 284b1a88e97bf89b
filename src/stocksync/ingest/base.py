"""The webhook parser interface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol, runtime_checkable

from stocksync.core.inbound import ParsedDelivery


class WebhookParser(Protocol):
    kind: ClassVar[str]
    # The credential field that holds the signing secret (e.g. "webhook_secret").
    secret_field: ClassVar[str]

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """Constant-time signature check over the raw body (`url` is the full URL the
        delivery was posted to, which Square signs too). Headers are lower-cased."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        """The delivery's id and messages; raises MalformedWebhook naming what is wrong.
        `settings` are the channel's settings (e.g. POS store -> location mapping)."""
        ...


@runtime_checkable
class AnswersPings(Protocol):
    """A parser for a platform that sends unsigned test deliveries (WooCommerce's ping when
    a webhook is saved): asked before `verify`, so the platform sees them accepted."""

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool: ...
