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
