"""Content sync's storage and projection on SQLite and PostgreSQL: overrides merge, the
projector marks only what differs, acknowledgements settle, refusals wait for a change,
channel edits come back as due; and the pure rules (smart sync, schedules, settings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from stocksync.app.content_overrides import content_store, set_channel_content
from stocksync.app.content_projector import ContentProjector
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.content import (
    ContentSettings,
    DataType,
    Direction,
    FieldMark,
    TypeSetting,
    digest,
    merge_settings,
    to_send,
)
from stocksync.core.errors import InvalidInput, NotFound, UnknownSku
from tests.conftest import new_tenant

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ON = ContentSettings({DataType.TITLE: TypeSetting(True, Direction.BOTH),
                      DataType.PRICE: TypeSetting(True, Direction.OUT)})


def _setup(svc: Stocksync) -> str:
    tenant = new_tenant(svc).id
    with svc.uow(tenant) as uow:
        uow.catalog.put_item(Item("A", title="Apple", price=Decimal("1.00"), currency="EUR"), T0)
        uow.catalog.put_item(Item("B", title="Banana"), T0)
        uow.channels.add(Channel(tenant, "web", ChannelKind.SHOPIFY, "web",
                                 ChannelRules(locations=())), None, 0, T0)
        uow.commit()
    content_store(svc).put_settings(tenant, "web", ON, T0)
    return tenant


def test_projection_push_acknowledge_and_smart_sync(svc: Stocksync) -> None:
    tenant = _setup(svc)
    store = content_store(svc)
    projector = ContentProjector(store, tenant, "web", {"title", "description", "price"})
    done = projector.project(ON, T0)
    assert done.changed == 2
    due = {s.sku: s for s in store.due(tenant, "web", T0 + timedelta(seconds=1), 10)}
    assert set(due) == {"A", "B"}
    assert set(due["A"].wanted) == {"title", "price"}  # description is off
    store.acknowledge(tenant, "web", {s: dict(due[s].wanted) for s in due}, T0)
    assert store.due(tenant, "web", T0 + timedelta(hours=1), 10) == []
    # Re-reading the same catalog (the overlap) marks nothing.
    assert projector.project(ON, T0 + timedelta(seconds=2)).changed == 0
    with svc.uow(tenant) as uow:
        uow.catalog.put_item(Item("A", title="Green apple", price=Decimal("1.00"),
                                  currency="EUR"), T0 + timedelta(minutes=1))
        uow.commit()
    projector.project(ON, T0 + timedelta(minutes=1))
    (state,) = store.due(tenant, "web", T0 + timedelta(minutes=2), 10)
    assert to_send(state.wanted, state.channel_has) == ["title"]  # the price is unchanged


def test_refusal_waits_for_a_change_and_failures_retry_later(svc: Stocksync) -> None:
    tenant = _setup(svc)
    store = content_store(svc)
    projector = ContentProjector(store, tenant, "web", {"title", "price"})
    projector.project(ON, T0)
    store.refuse(tenant, "web", {"A": "too long"}, T0)
    store.failed(tenant, "web", ["B"], "Unavailable", T0 + timedelta(seconds=30))
    assert store.due(tenant, "web", T0 + timedelta(seconds=1), 10) == []
    (b,) = store.due(tenant, "web", T0 + timedelta(seconds=31), 10)
    assert b.sku == "B" and b.attempts == 1 and b.last_error == "Unavailable"
    with svc.uow(tenant) as uow:
        uow.catalog.put_item(Item("A", title="Short", price=Decimal("1.00"), currency="EUR"),
                             T0 + timedelta(minutes=1))
        uow.commit()
    projector.project(ON, T0 + timedelta(minutes=1))
    assert "A" in {s.sku for s in store.due(tenant, "web", T0 + timedelta(minutes=2), 10)}


def test_an_older_channel_edit_makes_the_sku_due_again(svc: Stocksync) -> None:
    tenant = _setup(svc)
    store = content_store(svc)
    ContentProjector(store, tenant, "web", {"title"}).project(ON, T0)
    (a, b) = store.due(tenant, "web", T0 + timedelta(seconds=1), 10)
    store.acknowledge(tenant, "web", {a.sku: dict(a.wanted), b.sku: dict(b.wanted)}, T0)
    store.channel_edit(tenant, "web", "A", {"title": FieldMark("other", T0 - timedelta(
        hours=1))}, T0 + timedelta(seconds=5))
    (again,) = store.due(tenant, "web", T0 + timedelta(seconds=6), 10)
    assert again.sku == "A" and to_send(again.wanted, again.channel_has) == ["title"]


def test_set_channel_content_merges_and_validates(svc: Stocksync) -> None:
    tenant = _setup(svc)
    first = set_channel_content(svc, tenant, "A", "web", {"title": "Apple (web)"}, "ai:1")
    second = set_channel_content(svc, tenant, "A", "web",
                                 {"aspects": {"Colour": "Red"}}, "api")
    assert (second.title, second.aspects, second.source) == ("Apple (web)",
                                                             {"Colour": ["Red"]}, "api")
    assert first.updated_at is not None
    cleared = set_channel_content(svc, tenant, "A", "web", {"title": None}, "api")
    assert cleared.title is None and cleared.aspects == {"Colour": ["Red"]}
    with pytest.raises(InvalidInput):
        set_channel_content(svc, tenant, "A", "web", {"price": "1"}, "api")
    with pytest.raises(UnknownSku):
        set_channel_content(svc, tenant, "NOPE", "web", {"title": "x"}, "api")
    with pytest.raises(NotFound):
        set_channel_content(svc, tenant, "A", "nope", {"title": "x"}, "api")
    projector = ContentProjector(content_store(svc), tenant, "web", {"title"})
    projector.project(ON, T0)
    states = content_store(svc).states(tenant, "web", ["A"])
    assert "A" in states


def test_a_dropped_override_sends_the_items_own_value_back(svc: Stocksync) -> None:
    """An AI draft rejected: {"title": None} must put the item's title back on the
    channel, although the item itself is older than the override the channel shows."""
    tenant = _setup(svc)
    store = content_store(svc)
    projector = ContentProjector(store, tenant, "web", {"title"})
    projector.project(ON, T0)
    store.acknowledge(tenant, "web", {s.sku: dict(s.wanted) for s in store.due(
        tenant, "web", T0 + timedelta(seconds=1), 10)}, T0)
    set_channel_content(svc, tenant, "A", "web", {"title": "Apple by AI"}, "ai:draft-1")
    projector.project(ON, svc.clock())
    (shown,) = store.due(tenant, "web", svc.clock() + timedelta(seconds=1), 10)
    store.acknowledge(tenant, "web", {"A": dict(shown.wanted)}, svc.clock())
    set_channel_content(svc, tenant, "A", "web", {"title": None}, "ai:draft-1")
    projector.project(ON, svc.clock())
    (back,) = store.due(tenant, "web", svc.clock() + timedelta(seconds=1), 10)
    assert back.sku == "A" and to_send(back.wanted, back.channel_has) == ["title"]
    assert back.wanted["title"].h == digest("Apple")
    store.acknowledge(tenant, "web", {"A": dict(back.wanted)}, svc.clock())
    assert projector.project(ON, svc.clock()).changed == 0  # settled, nothing echoes
    assert store.due(tenant, "web", svc.clock() + timedelta(hours=1), 10) == []


def test_smart_sync_rules() -> None:
    old, new = T0, T0 + timedelta(seconds=1)
    assert to_send({"t": FieldMark("x", new)}, {}) == ["t"]
    assert to_send({"t": FieldMark("x", new)}, {"t": FieldMark("x", old)}) == []
    assert to_send({"t": FieldMark("x", new)}, {"t": FieldMark("y", old)}) == ["t"]
    # The channel's own edit is newer: not overwritten.
    assert to_send({"t": FieldMark("x", old)}, {"t": FieldMark("y", new)}) == []


def test_settings_merge_and_schedules() -> None:
    merged = merge_settings(ContentSettings(), {"types": {
        "title": {"enabled": True, "direction": "both"},
        "price": {"enabled": True, "schedule": "0 * * * *"}}})
    assert merged.of(DataType.TITLE).receives and merged.of(DataType.TITLE).sends
    assert merged.of(DataType.PRICE).sendable_at(T0 + timedelta(minutes=5)) == \
        T0 + timedelta(hours=1)
    assert merge_settings(merged, {"types": {"title": {"enabled": False}}}).of(
        DataType.TITLE).direction is Direction.BOTH
    with pytest.raises(InvalidInput):
        merge_settings(merged, {"types": {"price": {"schedule": "every hour"}}})
    with pytest.raises(InvalidInput):
        merge_settings(merged, {"types": {"colour": {"enabled": True}}})


def test_the_sql_store_has_every_method_of_its_port() -> None:
    import inspect

    from stocksync.app.content_ports import ContentStore
    from stocksync.storage.content_store import SqlContentStore

    def methods(cls: type) -> dict[str, list[str]]:
        return {n: list(inspect.signature(m).parameters) for n, m in vars(cls).items()
                if callable(m) and not n.startswith("_")}

    adapter = methods(SqlContentStore)
    for name, params in methods(ContentStore).items():
        assert adapter.get(name) == params, name


def test_published_product_payloads_parse_into_channel_edits() -> None:
    import json
    from pathlib import Path

    from stocksync.ingest.content_edits import edits_of

    fixtures = Path(__file__).parent.parent / "fixtures"
    (shopify,) = edits_of("shopify", (fixtures / "shopify/products_update.json").read_bytes())
    assert shopify.sku == "TSHIRT-001"
    assert shopify.at == datetime(2025, 4, 22, 19, 30, tzinfo=UTC)
    # No body_html in the payload: the description is not touched.
    assert shopify.fields == {"title": "T-Shirt",
                              "price": {"amount": "29.99", "compare_at": None}}
    raw = (fixtures / "woocommerce/product-794.json").read_bytes()
    assert edits_of("woocommerce", raw) == []  # the sample has no SKU: not addressable
    product = {**json.loads(raw), "sku": "PQ-1"}
    (woo,) = edits_of("woocommerce", json.dumps(product).encode())
    assert woo.at == datetime(2017, 3, 23, 20, 1, 14, tzinfo=UTC)
    assert woo.fields["title"] == "Premium Quality"
    assert woo.fields["price"] == {"amount": "21.99", "compare_at": None}
    assert woo.fields["description"].startswith("<p>Pellentesque")
