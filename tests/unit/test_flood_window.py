"""The outbox's own flood control: 30 messages in any second overall, one a second per chat."""

from __future__ import annotations

import time

from reminders.sender import FloodWindow


async def send(window: FloodWindow, chat: str) -> float:
    await window.acquire(chat)
    window.done()
    return time.monotonic()


async def test_a_second_message_to_one_chat_waits_a_second() -> None:
    window = FloodWindow()
    first = await send(window, "20001")
    other = await send(window, "20002")  # another chat goes at once
    again = await send(window, "20001")
    assert other - first < 0.2
    assert again - first >= 1.0


async def test_never_more_than_the_limit_in_one_second() -> None:
    window = FloodWindow(limit=5, period=0.5)
    times = [await send(window, str(chat)) for chat in range(11)]
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 0.5  # any 6 consecutive sends span the period
    assert times[4] - times[0] < 0.2  # up to the limit goes at once
