"""Group commit of webhook acks (app/group_keep.py): concurrent acks share a transaction,
each caller gets its own answer, and one bad delivery fails only its own ack."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from stocksync.app.group_keep import GroupKeep
from stocksync.app.ports import NewDelivery


def delivery(n: int | str) -> NewDelivery:
    return NewDelivery("t", "shop", "shopify", f"d-{n}", "orders/create", {}, b"{}", None,
                       None)


class Inbox:
    """A store that takes `pause` seconds per transaction, like a commit's flush."""

    def __init__(self, pause: float = 0.0, bad: str | None = None) -> None:
        self.pause = pause
        self.bad = bad
        self.kept: dict[str, int] = {}
        self.transactions: list[int] = []
        self.lock = threading.Lock()

    def keep(self, deliveries: Sequence[NewDelivery], now: datetime) -> list[int | None]:
        time.sleep(self.pause)
        with self.lock:
            if any(d.delivery_id == self.bad for d in deliveries):
                raise RuntimeError("the store refused this delivery")
            self.transactions.append(len(deliveries))
            out: list[int | None] = []
            for d in deliveries:
                if d.delivery_id in self.kept:
                    out.append(None)
                else:
                    self.kept[d.delivery_id] = len(self.kept) + 1
                    out.append(self.kept[d.delivery_id])
            return out


def clock() -> datetime:
    return datetime.now(UTC)


def test_a_lone_ack_is_kept_at_once_in_its_own_transaction() -> None:
    inbox = Inbox()
    group = GroupKeep(inbox.keep, clock)
    assert group.keep(delivery(1)) == 1
    assert group.keep(delivery(1)) is None  # a redelivery
    assert inbox.transactions == [1, 1]


def test_acks_arriving_together_share_transactions_and_keep_their_own_answers() -> None:
    inbox = Inbox(pause=0.02)
    group = GroupKeep(inbox.keep, clock)
    names = [n % 60 for n in range(80)]  # 20 of them redeliveries of an earlier one
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda n: (n, group.keep(delivery(n))), names))
    assert sum(inbox.transactions) == 80
    assert len(inbox.transactions) < 40  # grouped: most acks did not pay for a commit
    assert len(inbox.kept) == 60
    firsts = [stored for _, stored in answers if stored is not None]
    assert sorted(firsts) == list(range(1, 61))  # each delivery kept once, ids unique
    for n, stored in answers:
        assert stored is None or inbox.kept[f"d-{n}"] == stored


def test_a_bad_delivery_fails_only_its_own_ack() -> None:
    inbox = Inbox(pause=0.02, bad="d-bad")
    group = GroupKeep(inbox.keep, clock)
    names: list[int | str] = [*range(20), "bad", *range(20, 40)]
    errors: list[int | str] = []

    def ack(n: int | str) -> int | None:
        try:
            return group.keep(delivery(n))
        except RuntimeError:
            errors.append(n)
            return None

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(ack, names))
    assert errors == ["bad"]
    assert len(inbox.kept) == 40  # every other ack was kept


def test_the_store_error_of_a_lone_ack_reaches_its_caller() -> None:
    group = GroupKeep(Inbox(bad="d-x").keep, clock)
    with pytest.raises(RuntimeError):
        group.keep(delivery("x"))
    assert group.keep(delivery(1)) == 1  # the group is not stuck
