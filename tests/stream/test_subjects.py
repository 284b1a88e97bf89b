"""Subject layout (pure): a tenant's events only on its own subjects, and nothing a tenant
id, an event type or a channel code contains can widen a subject or a consumer's filter."""

from __future__ import annotations

import pytest

from stocksync.config import Settings
from stocksync.stream.subjects import (
    BadSubject,
    channel_consumer,
    event_subject,
    stream_spec,
    tenant_filter,
    tenant_of,
)


def test_subjects_name_the_tenant_and_the_two_token_type() -> None:
    assert event_subject("stocksync", "t_ab12", "stock.sold") == "stocksync.t_ab12.stock.sold"
    assert event_subject("stocksync", "t_ab12", "item.deleted") == "stocksync.t_ab12.item.deleted"
    assert tenant_filter("stocksync", "t_ab12") == "stocksync.t_ab12.>"
    assert tenant_of("stocksync", "stocksync.t_ab12.stock.sold") == "t_ab12"
    assert tenant_of("stocksync", "other.t_ab12.stock.sold") is None
    assert channel_consumer("t_ab12", "shop-eu") == "channel_t_ab12_shop-eu"


@pytest.mark.parametrize("tenant", ["t_a.b", "*", ">", "t a", ""])
def test_no_token_can_widen_a_subject(tenant: str) -> None:
    with pytest.raises(BadSubject):
        tenant_filter("stocksync", tenant)
    with pytest.raises(BadSubject):
        event_subject("stocksync", tenant, "stock.sold")
    with pytest.raises(BadSubject):
        event_subject("stocksync", "t_ok", f"stock.{tenant or 'x y'}")


def test_the_stream_keeps_every_tenant_with_limits_and_a_dedupe_window() -> None:
    spec = stream_spec(Settings(nats_stream="S1", nats_subject_prefix="p",
                                nats_max_age_hours=2, nats_duplicate_window_seconds=60))
    assert (spec.name, spec.subjects) == ("S1", ("p.>",))
    assert (spec.max_age_seconds, spec.max_bytes, spec.duplicate_window_seconds) == \
        (7200, -1, 60)
