"""One message edited as long work goes on ("40,000 rows read"), instead of silence or a flood.

The work runs in a worker thread (reading a spreadsheet, writing one); the thread calls the
`LiveProgress` object, which hops to the event loop and edits the message at most every few
seconds. `settle()` waits for the edits in flight, so a later edit (the report) cannot be
overwritten by a late progress line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram import Message
from telegram.error import TelegramError

log = logging.getLogger("unionbot.progress")

EVERY_SECONDS = 2.0  # Telegram allows about one edit a second per chat; leave room


class LiveProgress:
    def __init__(
        self,
        message: Message,
        render: Callable[[int, int | None], str],
        *,
        every: float = EVERY_SECONDS,
    ) -> None:
        self.message, self.render, self.every = message, render, every
        self.loop = asyncio.get_running_loop()
        self.last = time.monotonic()  # the message was just sent: wait before the first edit
        self.tasks: set[asyncio.Task[None]] = set()
        self.shown = ""

    def __call__(self, done: int, total: int | None) -> None:
        """Report progress; from any thread."""
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        text = self.render(done, total)
        self.loop.call_soon_threadsafe(self._start, text)

    def _start(self, text: str) -> None:
        task = self.loop.create_task(self.edit(text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def edit(self, text: str) -> None:
        if text == self.shown:
            return
        self.shown = text
        try:
            await self.message.edit_text(text)
        except TelegramError as exc:  # progress is a courtesy: the work goes on regardless
            log.info("progress message not edited: %s", exc)

    async def settle(self) -> None:
        await asyncio.sleep(0)  # let edits the thread scheduled last start
        if self.tasks:
            await asyncio.gather(*self.tasks)
