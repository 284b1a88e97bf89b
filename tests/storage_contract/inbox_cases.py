"""Inbox cases: a delivery is kept once; claims are short, exclusive and fenced; settled
deliveries are done, retried later or dead-lettered; failed ones can be dismissed or
replayed."""

from __future__ import annotations

from datetime import datetime, timedelta

from stocksync.app.ports import NewDelivery
from tests.storage_contract.base import StorageContract

HOLD = timedelta(seconds=30)


class InboxCases(StorageContract):
    def keep_delivery(self, channel: str, delivery_id: str, topic: str = "orders/create",
                      not_before: datetime | None = None) -> int | None:
        return self.svc.inbox.keep([NewDelivery(
            self.tenant, channel, "shopify", delivery_id, topic, {"x-test": "1"},
            b'{"id": 1}', "corr-1", not_before)], self.clock())[0]

    def keep(self, delivery_id: str, topic: str = "orders/create", channel: str = "shop",
             not_before: datetime | None = None) -> int:
        kept = self.keep_delivery(channel, delivery_id, topic, not_before)
        assert kept is not None
        return kept

    def test_a_delivery_is_kept_once_per_channel_and_read_back(self) -> None:
        first = self.keep("d1")
        assert self.keep_delivery("shop", "d1") is None
        assert self.keep_delivery("other", "d1") is not None
        found = self.svc.inbox.get(first)
        assert found is not None
        assert (found.tenant_id, found.channel, found.delivery_id, found.status,
                found.attempts, found.received_at) == (self.tenant, "shop", "d1", "pending",
                                                       0, self.clock())
        assert (found.body, found.headers, found.correlation_id) == \
            (b'{"id": 1}', {"x-test": "1"}, "corr-1")
        assert self.svc.inbox.get(first, self.new_tenant()) is None

    def test_a_claim_takes_due_deliveries_once_until_it_runs_out(self) -> None:
        a, b = self.keep("a"), self.keep("b")
        self.keep("later", not_before=self.clock() + timedelta(minutes=1))
        taken = self.svc.inbox.claim(self.clock(), HOLD, 10)
        assert [d.id for d in taken] == [a, b]
        assert taken[0].claimed_until == self.clock() + HOLD
        assert self.svc.inbox.claim(self.clock(), HOLD, 10) == []
        self.clock.tick(HOLD.total_seconds() + 61)
        assert len(self.svc.inbox.claim(self.clock(), HOLD, 10)) == 3

    def test_topics_named_later_come_last_and_skipped_channels_not_at_all(self) -> None:
        notice = self.keep("n", topic="inventory_levels/update")
        order = self.keep("o")
        other = self.keep("x", channel="pos")
        taken = self.svc.inbox.claim(self.clock(), HOLD, 10, skip=[(self.tenant, "pos")])
        assert [d.id for d in taken] == [notice, order]
        assert [d.id for d in self.svc.inbox.claim(self.clock(), HOLD, 1)] == [other]

    def test_a_full_queue_of_notices_still_lets_its_orders_through(self) -> None:
        later = ["inventory_levels/update"]
        notice = self.keep("n", topic="inventory_levels/update")
        order = self.keep("o")
        elsewhere = self.keep("n2", channel="pos", topic="inventory_levels/update")
        taken = self.svc.inbox.claim(self.clock(), HOLD, 10, skip=[(self.tenant, "shop")],
                                     later=later)
        assert [d.id for d in taken] == [order, elsewhere]  # not the full queue's notice
        self.clock.tick(HOLD.total_seconds() + 1)
        assert [d.id for d in self.svc.inbox.claim(self.clock(), HOLD, 10, later=later)] == \
            [order, notice, elsewhere]

    def test_only_the_holder_of_a_claim_renews_or_releases_it(self) -> None:
        a = self.keep("a")
        held = self.svc.inbox.claim(self.clock(), HOLD, 10)[0].claimed_until
        assert held is not None
        self.clock.tick(10)
        until, renewed = self.svc.inbox.renew([a], held, self.clock(), HOLD)
        assert (until, renewed) == (self.clock() + HOLD, {a})
        _, renewed = self.svc.inbox.renew([a], held, self.clock(), HOLD)  # stale token
        assert renewed == set()
        assert self.svc.inbox.release([a], held) == 0
        assert self.svc.inbox.release([a], until) == 1
        assert [d.id for d in self.svc.inbox.claim(self.clock(), HOLD, 10)] == [a]

    def test_settling_marks_done_retries_later_or_dead_letters(self) -> None:
        done, retry, dead = self.keep("done"), self.keep("retry"), self.keep("dead")
        self.svc.inbox.claim(self.clock(), HOLD, 10)
        inbox = self.svc.inbox
        inbox.settle(done, self.clock())
        inbox.settle(retry, self.clock(), error="HTTP 503",
                     retry_at=self.clock() + timedelta(seconds=5))
        inbox.settle(dead, self.clock(), error="no such SKU")
        got = {d.delivery_id: d for d in inbox.listing(self.tenant, None, 0, 10)}
        assert (got["done"].status, got["done"].processed_at) == ("done", self.clock())
        assert (got["retry"].status, got["retry"].attempts, got["retry"].last_error,
                got["retry"].claimed_until) == ("pending", 1, "HTTP 503", None)
        assert (got["dead"].status, got["dead"].attempts) == ("failed", 1)
        assert inbox.claim(self.clock(), HOLD, 10) == []
        assert [d.id for d in inbox.claim(self.clock() + timedelta(seconds=5), HOLD, 10)] == \
            [retry]
        assert [d.delivery_id for d in inbox.listing(self.tenant, "failed", 0, 10)] == ["dead"]
        assert [d.delivery_id for d in inbox.listing(self.tenant, None, done, 1)] == ["retry"]

    def test_only_a_failed_delivery_is_dismissed_and_any_can_be_replayed(self) -> None:
        ok, dead = self.keep("ok"), self.keep("dead")
        self.svc.inbox.settle(dead, self.clock(), error="bad")
        found, dismissed = self.svc.inbox.dismiss(ok, self.clock(), "key:sk_1", "why")
        assert found is not None and not dismissed
        found, dismissed = self.svc.inbox.dismiss(dead, self.clock(), "key:sk_1", "known")
        assert dismissed and found is not None
        assert (found.status, found.dismissed_by, found.dismiss_reason) == \
            ("dismissed", "key:sk_1", "known")
        assert self.svc.inbox.dismiss(999_999, self.clock(), "x", None) == (None, False)
        replayed = self.svc.inbox.replay(dead)
        assert replayed is not None
        assert (replayed.status, replayed.attempts, replayed.dismissed_at) == \
            ("pending", 0, None)
        assert self.svc.inbox.replay(999_999) is None
        assert self.svc.inbox.replay(dead, self.new_tenant()) is None

    def test_settled_deliveries_past_the_window_are_purged(self) -> None:
        done, open_ = self.keep("done"), self.keep("open")
        self.svc.inbox.settle(done, self.clock())
        self.clock.tick(3600)
        assert self.svc.admin.purge_inbox(self.clock()) == 1
        assert self.svc.inbox.get(done) is None and self.svc.inbox.get(open_) is not None

    def test_several_deliveries_are_kept_in_one_call(self) -> None:
        new = [NewDelivery(self.tenant, "shop", "polled", f"o-{n}", "orders/poll", {}, b"[]")
               for n in (1, 2, 1)]
        first, second, again = self.svc.inbox.keep(new, self.clock())
        assert first is not None and second is not None and again is None

    def test_a_batch_is_settled_as_done_in_one_call_and_nothing_else(self) -> None:
        a, b, other = self.keep("a"), self.keep("b"), self.keep("other")
        self.svc.inbox.claim(self.clock(), HOLD, 10)
        self.clock.tick(1)
        self.svc.inbox.settle_many([a, b], self.clock())
        self.svc.inbox.settle_many([], self.clock())
        got = {d.delivery_id: d for d in self.svc.inbox.listing(self.tenant, None, 0, 10)}
        assert [(got[n].status, got[n].processed_at, got[n].claimed_until)
                for n in ("a", "b")] == [("done", self.clock(), None)] * 2
        assert got["other"].status == "pending" and got["other"].claimed_until is not None
        assert other not in {d.id for d in self.svc.inbox.listing(self.tenant, "done", 0, 10)}
