"""What stocksync knows about a platform: class attributes of its connector."""

from __future__ import annotations

from typing import ClassVar

from stocksync.core.channel_rules import ExternalChanges


class PlatformFacts:
    """What stocksync knows about a platform before it holds a connector: read from the
    class (`registry.connector_class(kind)`), never from a table keyed by kind. Each
    connector class inherits these defaults and states where its platform differs."""

    kind: ClassVar[str]
    max_batch: ClassVar[int] = 1  # most quantity sets one push call may carry
    pushed: ClassVar[bool] = True  # stocksync sends this kind quantities (a POS: no)
    # What a channel of this kind needs: settings fields and credential fields. Webhook
    # secrets are only needed where the platform sends webhooks; checked at delivery.
    required_settings: ClassVar[tuple[str, ...]] = ()
    required_credentials: ClassVar[tuple[str, ...]] = ()
    # Under which external-id field the platform's own item id is kept (SKU mapping);
    # None where the platform addresses items by SKU.
    mapping_field: ClassVar[str | None] = None
    # Pushes compare-and-set against the value stocksync expects there (a push that crosses
    # a sale at the channel fails instead of erasing it). Elsewhere a channel that sold
    # since our last set is set again (see app/channel_changes.py).
    compare_and_set: ClassVar[bool] = False
    # The connector paces its own calls from the platform's limits; otherwise the pusher
    # spaces calls by the channel's `max_requests_per_second` setting.
    self_paced: ClassVar[bool] = False
    # The platform reports our own pushes back (webhooks), so values in flight are noted.
    echoes_pushes: ClassVar[bool] = False
    # Listings have a daily revision cap (eBay): drops at once, increases spaced out.
    revision_capped: ClassVar[bool] = False
    # A change made inside the channel that no order explains: where people buy, and the
    # platform reports its levels, it is accepted (never pushed over); a B2B portal or
    # custom storefront is fed only by stocksync, so stocksync's value is put back there.
    default_external_changes: ClassVar[ExternalChanges] = ExternalChanges.ACCEPT
