"""Channel cases: channel rows, cursors and leases, and the per-SKU wanted/pushed state
the projector and the pusher keep (pending, due, held, parked, acknowledged)."""

from __future__ import annotations

from datetime import timedelta

from stocksync.app.ports import NewDelivery
from stocksync.app.records import SkuTarget, Wanted
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from tests.storage_contract.base import StorageContract

CODE = "shop"


class ChannelCases(StorageContract):
    def add_channel(self, code: str = CODE, kind: ChannelKind = ChannelKind.SHOPIFY,
                    enabled: bool = True) -> Channel:
        channel = Channel(self.tenant, code, kind, f"Channel {code}", ChannelRules(("WH",)),
                          {"shop": "acme"}, enabled=enabled)
        with self.uow() as uow:
            uow.channels.add(channel, "sealed-secret", 0, self.clock())
            uow.commit()
            found = uow.channels.get(code)
        assert found is not None
        return found

    def want(self, **values: int) -> None:
        with self.uow() as uow:
            existing = uow.channels.targets(CODE, list(values))
            uow.channels.want_many(CODE, [Wanted(sku, v, 1, self.clock())
                                          for sku, v in values.items()], existing)
            uow.commit()

    def shown(self, sku: str, value: int) -> None:
        """The channel wants `value` for `sku` and acknowledged it."""
        self.want(**{sku: value})
        with self.uow() as uow:
            assert uow.channels.acknowledge(CODE, sku, value, self.clock())
            uow.commit()

    def target(self, sku: str) -> SkuTarget:
        with self.uow(write=False) as uow:
            return uow.channels.targets(CODE, [sku])[sku]

    def test_a_channel_is_added_listed_changed_and_removed(self) -> None:
        added = self.add_channel()
        assert (added.cursor, added.created_at, added.settings) == (0, self.clock(),
                                                                    {"shop": "acme"})
        assert added.webhook_id is not None and added.webhook_id.startswith("wh_")
        self.add_channel("pos", ChannelKind.POS)
        self.clock.tick(10)
        with self.uow() as uow:
            repo = uow.channels
            assert [c.code for c in repo.list()] == ["pos", CODE]
            assert repo.sealed_credentials(CODE) == "sealed-secret"
            repo.change(Channel(self.tenant, CODE, ChannelKind.SHOPIFY, "Renamed",
                                ChannelRules(("WH", "NYC")), {}, enabled=False), None,
                        self.clock())
            uow.commit()
        with self.uow() as uow:
            changed = uow.channels.get(CODE)
            assert changed is not None
            assert (changed.name, changed.enabled, changed.rules.locations, changed.updated_at,
                    changed.webhook_id) == ("Renamed", False, ("WH", "NYC"), self.clock(),
                                            added.webhook_id)
            assert uow.channels.sealed_credentials(CODE) == "sealed-secret"
            uow.channels.remove("pos")
            uow.commit()
        with self.uow(write=False) as uow:
            assert [c.code for c in uow.channels.list()] == [CODE]
            assert uow.channels.get("pos") is None
        with self.uow(self.new_tenant(), write=False) as uow:
            assert uow.channels.list() == []

    def test_the_cursor_advances_and_a_resync_forgets_what_was_told(self) -> None:
        self.add_channel()
        self.want(A=3)
        with self.uow() as uow:
            uow.channels.advance(CODE, 7)
            uow.commit()
        with self.uow() as uow:
            assert uow.channels.get(CODE).cursor == 7  # type: ignore[union-attr]
            uow.channels.resync(CODE)
            uow.commit()
        with self.uow(write=False) as uow:
            assert uow.channels.get(CODE).cursor == 0  # type: ignore[union-attr]
            assert uow.channels.targets(CODE, ["A"]) == {}

    def test_one_owner_holds_the_lease_until_it_runs_out(self) -> None:
        self.add_channel()
        until = self.clock() + timedelta(seconds=30)
        with self.uow() as uow:
            assert uow.channels.claim_lease(CODE, "w1", self.clock(), until)
            assert not uow.channels.claim_lease(CODE, "w2", self.clock(), until)
            assert uow.channels.claim_lease(CODE, "w1", self.clock(), until)
            assert uow.channels.claim_lease(CODE, "w2", until + timedelta(seconds=1), until)
            uow.commit()

    def test_push_failures_and_order_polls_are_recorded(self) -> None:
        self.add_channel()
        first = self.clock()
        with self.uow() as uow:
            assert uow.channels.order_cursor(CODE) == (None, first)
            uow.channels.record_push(CODE, first, "HTTP 500")
            uow.channels.record_push(CODE, self.clock.tick(5), "HTTP 502")
            uow.channels.record_order_poll(CODE, self.clock(), "c-9", None)
            uow.commit()
        with self.uow() as uow:
            status = uow.channels.status(CODE, 0, self.clock())
            assert (status.failing_since, status.last_error, status.last_error_at) == \
                (first, "HTTP 502", self.clock())
            assert uow.channels.order_cursor(CODE) == ("c-9", first)
            assert status.orders_polled_at == self.clock()
            uow.channels.record_push(CODE, self.clock(), None)
            uow.channels.record_order_poll(CODE, self.clock(), None, "timed out")
            uow.commit()
        with self.uow(write=False) as uow:
            status = uow.channels.status(CODE, 0, self.clock())
            assert (status.failing_since, status.last_push_at) == (None, self.clock())
            assert status.orders_error == "timed out"
            assert uow.channels.order_cursor(CODE)[0] == "c-9"

    def test_wanted_values_are_pending_until_acknowledged(self) -> None:
        self.add_channel()
        since = self.clock()
        self.want(A=3, B=5)
        assert self.target("A").wanted == 3 and self.target("A").pending_since == since
        self.clock.tick(30)
        self.want(A=2)  # still pending: keeps its first pending_since
        assert self.target("A").pending_since == since
        with self.uow() as uow:
            repo = uow.channels
            assert repo.pending_skus(CODE) == {"A", "B"}
            assert [t.sku for t in repo.due(CODE, self.clock(), 10)] == ["A", "B"]
            in_sync = repo.acknowledge_many(CODE, {"A": 2, "B": 4}, self.clock(),
                                            {"A": 2, "B": 5})
            assert in_sync == {"A"}
            uow.commit()
        a, b = self.target("A"), self.target("B")
        assert (a.pushed, a.pending_since) == (2, None)
        assert (b.pushed, b.pending_since) == (4, since)
        self.want(A=2)  # in sync already: not pending
        assert self.target("A").pending_since is None

    def test_a_value_wanted_while_a_push_was_in_flight_stays_pending(self) -> None:
        self.add_channel()
        self.want(A=3)
        with self.uow() as uow:
            uow.channels.mark_sending(CODE, {"A": 3}, {"A": [4]})
            uow.commit()
        assert (self.target("A").sending, self.target("A").unconfirmed) == (3, (4,))
        self.want(A=1)  # the projector moved on meanwhile
        with self.uow() as uow:
            assert uow.channels.acknowledge_many(CODE, {"A": 3}, self.clock(),
                                                 {"A": 3}) == {"A"}
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.wanted, a.sending, a.unconfirmed) == (3, 1, None, ())
        assert a.pending_since is not None

    def test_moves_counted_during_a_push_stay_on_top_of_the_acknowledged_value(self) -> None:
        self.add_channel()
        self.shown("A", 5)
        with self.uow() as uow:
            uow.channels.channel_moved(CODE, "A", -1, 0, self.clock(), self.clock(),
                                       wanted_delta=-1)
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.wanted, a.channel_moves, a.last_set) == (4, 4, -1, 5)
        assert a.channel_changed_at == self.clock()
        with self.uow() as uow:  # a push read with moves -1, one more sale meanwhile
            uow.channels.channel_moved(CODE, "A", -1, 0, None, self.clock())
            uow.channels.acknowledge_many(CODE, {"A": 4}, self.clock(), {"A": 4}, {"A": -1})
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.channel_moves) == (3, -1)
        with self.uow() as uow:  # a move absorbed by an accepted level notice
            uow.channels.channel_moved(CODE, "A", -2, -2, None, self.clock())
            uow.channels.channel_moved(CODE, "A", -1, 0, None, self.clock(), included=True)
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.channel_moves, a.unexplained) == (3, -1, 2)

    def test_a_level_is_accepted_only_while_its_expectation_holds(self) -> None:
        self.add_channel()
        self.shown("A", 5)
        with self.uow() as uow:
            assert not uow.channels.accept_level(CODE, "A", 3, 4, self.clock())
            assert uow.channels.accept_level(CODE, "A", 3, 5, self.clock(), self.clock())
            assert not uow.channels.accept_level(CODE, "A", 3, 5, self.clock())
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.unexplained, a.observed_at, a.level_at) == \
            (3, -2, self.clock(), self.clock())
        assert a.pending_since is not None

    def test_an_observed_value_replaces_the_expected_one(self) -> None:
        self.add_channel()
        self.shown("A", 5)
        with self.uow() as uow:
            uow.channels.observed(CODE, "A", 5, self.clock())
            uow.commit()
        assert self.target("A").pending_since is None
        with self.uow() as uow:
            uow.channels.observed(CODE, "A", 9, self.clock(), self.clock())
            uow.commit()
        a = self.target("A")
        assert (a.pushed, a.channel_moves, a.level_at) == (9, 0, self.clock())
        assert a.pending_since is not None

    def test_held_and_parked_skus_are_not_due_and_show_in_the_status(self) -> None:
        self.add_channel()
        for sku in "ABC":  # one after the other: due is oldest first
            self.want(**{sku: 1})
            self.clock.tick(1)
        later = self.clock() + timedelta(minutes=5)
        with self.uow() as uow:
            uow.channels.hold_until(CODE, {"A": later})
            uow.channels.park(CODE, "B", "listing closed")
            assert [t.sku for t in uow.channels.due(CODE, self.clock(), 10)] == ["C"]
            assert [t.sku for t in uow.channels.due(CODE, later, 10)] == ["A", "C"]
            status = uow.channels.status(CODE, 0, self.clock())
            assert (status.pending, status.parked, status.held) == (3, 1, 1)
            c_since = self.clock() - timedelta(seconds=1)
            assert status.oldest_unpushed_at == c_since and status.lag_since == c_since
            uow.channels.unpark_all(CODE)
            uow.commit()
        with self.uow(write=False) as uow:
            assert [t.sku for t in uow.channels.due(CODE, later, 1)] == ["A"]
            assert uow.channels.status(CODE, 0, self.clock()).parked == 0
        counts = self.svc.admin.channel_counts()
        assert (counts["total"], counts["enabled"], counts["pending_skus"]) == (1, 1, 3)

    def test_external_ids_map_skus_to_the_channel_and_back(self) -> None:
        self.add_channel()
        self.want(A=1)
        with self.uow() as uow:
            uow.channels.park(CODE, "A", "unknown item")
            uow.channels.set_external_ids(CODE, {"A": {"inventory_item_id": "11"},
                                                 "B": {"inventory_item_id": "22"}})
            uow.commit()
        with self.uow(write=False) as uow:
            repo = uow.channels
            assert repo.mapping(CODE) == {"A": {"inventory_item_id": "11"},
                                          "B": {"inventory_item_id": "22"}}
            assert repo.sku_for_external_id(CODE, "inventory_item_id", "22") == "B"
            assert repo.sku_for_external_id(CODE, "inventory_item_id", "33") is None
            assert [t.sku for t in repo.due(CODE, self.clock(), 10)] == ["A"]  # unparked
            b = repo.targets(CODE, ["B"])["B"]
            assert (b.wanted, b.pushed, b.pending_since) == (None, None, None)
            assert [r.sku for r in repo.page(CODE, None, 10)] == ["A", "B"]
            assert [r.sku for r in repo.page(CODE, "A", 10)] == ["B"]
            row = repo.page(CODE, None, 1)[0]
            assert (row.wanted, row.parked_reason, row.external_ids) == \
                (1, None, {"inventory_item_id": "11"})

    def test_revisions_are_counted_per_day(self) -> None:
        self.add_channel("ebay", ChannelKind.EBAY)
        with self.uow() as uow:
            uow.channels.want("ebay", "A", 1, 1, self.clock(), None)
            uow.channels.count_revision("ebay", "A", self.clock(), 0)
            uow.channels.count_revision("ebay", "A", self.clock(), 1)
            uow.commit()
        with self.uow(write=False) as uow:
            assert uow.channels.revisions_today("ebay", self.clock()) == {"A": 2}
            assert uow.channels.revisions_today("ebay", self.clock() + timedelta(days=1)) == {}
            a = uow.channels.targets("ebay", ["A"])["A"]
            assert (a.revisions, a.last_revision_at) == (2, self.clock())

    def test_the_status_measures_lag_from_the_oldest_unprojected_event(self) -> None:
        self.add_channel()
        self.stock(on_hand=3)
        self.svc.admin.drain()
        self.clock.tick(60)
        with self.uow(write=False) as uow:
            behind = uow.channels.status(CODE, 0, self.clock())
            caught_up = uow.channels.status(CODE, 1, self.clock())
        assert behind.oldest_unprojected_at == self.clock() - timedelta(seconds=60)
        assert behind.lag_seconds(self.clock()) == 60
        assert caught_up.oldest_unprojected_at is None and caught_up.lag_since is None
        assert [c.code for c in self.svc.admin.enabled_channels()] == [CODE]

    def test_a_webhook_url_names_its_channel_and_refusals_are_counted(self) -> None:
        added = self.add_channel()
        assert added.webhook_id is not None
        found = self.svc.inbox.receiver(added.webhook_id)
        assert found is not None and found[0].code == CODE and found[1] == "sealed-secret"
        assert self.svc.inbox.receiver("wh_unknown") is None
        self.svc.inbox.record_refused(self.tenant, CODE, self.clock())
        self.svc.inbox.record_refused(self.tenant, CODE, self.clock())
        with self.uow(write=False) as uow:
            status = uow.channels.status(CODE, 0, self.clock())
        assert (status.webhooks_refused, status.webhook_refused_at,
                status.webhooks_refused_since_accepted) == (2, self.clock(), True)
        self.clock.tick(1)
        self.svc.inbox.keep([NewDelivery(self.tenant, CODE, "shopify", "d-1", "orders/create",
                                         {}, b"{}")], self.clock())
        with self.uow(write=False) as uow:
            assert not uow.channels.status(CODE, 0, self.clock()).webhooks_refused_since_accepted
