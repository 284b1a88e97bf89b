"""The pacer spaces calls evenly (a fake clock, no real sleeping)."""

from __future__ import annotations

import anyio

from stocksync.channels.pacing import Pacer


def test_calls_beyond_the_rate_wait_their_turn_and_idle_time_is_not_banked() -> None:
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=fake_sleep)

    async def main() -> None:
        for _ in range(3):
            await pacer.take()
        now[0] += 10  # a quiet spell
        await pacer.take()
        await pacer.take()

    anyio.run(main)
    assert slept == [0.25, 0.25, 0.25]  # 3 calls at 4/s; after idling, one free then wait


def test_a_burst_of_capacity_goes_out_at_once_then_the_rate_holds() -> None:
    now = [0.0]
    pacer = Pacer(2.0, capacity=3.0, clock=lambda: now[0])
    assert [pacer.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    now[0] += 0.5  # the fourth call's slot has come; the next is another half second on
    assert pacer.reserve() == 0.5
