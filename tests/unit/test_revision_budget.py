"""The eBay revision budget: drops go at once, increases are coalesced, the cap holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stocksync.core.revisions import RevisionBudget, decide, next_day, used_today

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BUDGET = RevisionBudget(cap=250, reserve=50)


def test_a_drop_to_zero_goes_at_once_even_right_after_another_revision() -> None:
    d = decide(BUDGET, 0, 5, used=240, last_revision_at=NOW, now=NOW)
    assert d.send


def test_an_increase_waits_for_its_spacing() -> None:
    d = decide(BUDGET, 9, 5, used=10, last_revision_at=NOW - timedelta(seconds=30), now=NOW)
    assert not d.send and d.not_before == NOW - timedelta(seconds=30) + BUDGET.increase_spacing
    later = decide(BUDGET, 9, 5, used=10, last_revision_at=NOW - BUDGET.increase_spacing,
                   now=NOW)
    assert later.send


def test_setting_again_what_the_listing_itself_did_is_not_spaced_but_stays_capped() -> None:
    # A relisted cancellation our set may have landed over: 5 -> 9 was eBay's own doing.
    d = decide(BUDGET, 9, 5, used=10, last_revision_at=NOW - timedelta(seconds=30), now=NOW,
               repair=True)
    assert d.send
    capped = decide(BUDGET, 9, 5, used=250, last_revision_at=NOW, now=NOW, repair=True)
    assert not capped.send


def test_with_a_thin_budget_only_drops_to_low_stock_skip_the_queue() -> None:
    just_now = NOW - timedelta(seconds=10)
    assert not decide(BUDGET, 90, 100, used=210, last_revision_at=just_now, now=NOW).send
    assert decide(BUDGET, 3, 100, used=210, last_revision_at=just_now, now=NOW).send
    assert decide(BUDGET, 90, 100, used=100, last_revision_at=just_now, now=NOW).send


def test_the_reserve_is_kept_for_decreases_and_the_cap_is_never_passed() -> None:
    assert not decide(BUDGET, 9, 5, used=200, last_revision_at=None, now=NOW).send
    assert decide(BUDGET, 4, 5, used=200, last_revision_at=None, now=NOW).send
    capped = decide(BUDGET, 0, 5, used=250, last_revision_at=None, now=NOW)
    assert not capped.send and capped.not_before == next_day(NOW)


def test_yesterdays_revisions_do_not_count() -> None:
    assert used_today(250, NOW - timedelta(days=1), NOW) == 0
    assert used_today(7, NOW.replace(hour=1), NOW) == 7


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 100)), max_size=2000))
def test_no_sequence_of_changes_exceeds_the_cap_in_a_day(
        changes: list[tuple[int, int]]) -> None:
    now, shown, used, last = NOW.replace(hour=0), 10, 0, None
    for seconds, wanted in changes:
        now += timedelta(seconds=seconds)
        used = used_today(used, last, now) if last else used
        if decide(BUDGET, wanted, shown, used, last, now).send:
            shown, used, last = wanted, used + 1, now
        assert used <= BUDGET.cap
