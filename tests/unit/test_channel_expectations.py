"""Which values a channel can show because of stocksync's own sets (SkuTarget.ours)."""

from __future__ import annotations

from stocksync.app.records import SkuTarget


def test_our_expected_wanted_and_in_flight_values_are_ours() -> None:
    target = SkuTarget(sku="TEE", wanted=18, pushed=20, pending_since=None, external_ids={},
                       sending=19)
    assert target.ours() == {18, 19, 20}


def test_values_between_our_last_set_and_the_expected_one_are_ours() -> None:
    # We set 22; two of the channel's own sales were counted meanwhile (expected 20). The
    # set may have landed between them: the channel can show 22, 21 or 20 until re-set.
    target = SkuTarget(sku="TEE", wanted=20, pushed=20, pending_since=None, external_ids={},
                       channel_moves=-2)
    assert target.last_set == 22
    assert {20, 21, 22} <= target.ours()
    assert 23 not in target.ours() and 19 not in target.ours()


def test_a_channel_restock_counted_since_our_set_spans_upwards() -> None:
    target = SkuTarget(sku="TEE", wanted=None, pushed=7, pending_since=None, external_ids={},
                       channel_moves=2)
    assert target.ours() == {5, 6, 7}


def test_nothing_is_ours_before_anything_was_set() -> None:
    assert SkuTarget(sku="TEE", wanted=None, pushed=None, pending_since=None,
                     external_ids={}).ours() == frozenset()


def test_a_value_sent_by_a_push_that_failed_stays_ours_until_an_acknowledgement() -> None:
    # 27 was sent and the push timed out (it may have landed); now 26 is being sent.
    target = SkuTarget(sku="TEE", wanted=26, pushed=32, pending_since=None, external_ids={},
                       sending=27)
    kept = target.sent_unconfirmed(26)
    assert kept == (27,)
    after = SkuTarget(sku="TEE", wanted=26, pushed=32, pending_since=None, external_ids={},
                      sending=26, unconfirmed=kept)
    assert 27 in after.ours()
    assert 27 not in after.set_by_us()  # a lost compare-and-set cannot be explained by it


def test_unconfirmed_values_are_bounded_and_not_repeated() -> None:
    target = SkuTarget(sku="TEE", wanted=1, pushed=40, pending_since=None, external_ids={},
                       sending=30, unconfirmed=tuple(range(20, 30)))
    kept = target.sent_unconfirmed(25)
    assert len(kept) == 8 and kept[-1] == 30 and 25 not in kept


def test_after_a_lost_compare_and_set_the_value_being_set_is_not_ours() -> None:
    target = SkuTarget(sku="TEE", wanted=59, pushed=60, pending_since=None, external_ids={},
                       sending=59)
    assert 59 in target.ours()  # a notice of it may be the echo of the set
    assert target.set_by_us() == {60}  # but not if that set was refused
