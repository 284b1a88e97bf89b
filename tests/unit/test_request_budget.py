"""The per-channel request budget spaces calls evenly (a fake clock, no real sleeping)."""

from __future__ import annotations

import anyio

from stocksync.app.pusher import RequestBudget


def test_calls_beyond_the_rate_wait_their_turn_and_idle_time_is_not_banked() -> None:
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    budget = RequestBudget(4.0, clock=lambda: now[0], sleep=fake_sleep)

    async def main() -> None:
        for _ in range(3):
            await budget.take()
        now[0] += 10  # a quiet spell
        await budget.take()
        await budget.take()

    anyio.run(main)
    assert slept == [0.25, 0.25, 0.25]  # 3 calls at 4/s; after idling, one free then wait
