"""The outbox's Telegram sender: claims due rows, sends each, records what happened.

Telegram's limits are kept by PTB's AIORateLimiter (≈30 messages/s overall, 20/min per
group); a 429 it could not absorb puts the row back for retry_after, a timeout or 5xx backs
off and retries, a blocked bot (403) or a refused message (400) is final and not retried.
Each row is marked in its own short transaction right after its call, so a crash loses at
most the row in flight, and its lease lets another instance pick it up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.db import Database
from bot.texts import t
from models.enums import Language, OutboxChannel, OutboxStatus
from models.outbox import backoff, claim, mark_final, mark_later, mark_sent
from models.tables import OutboxMessage

log = logging.getLogger("unionbot.outbox")
# Rows claimed at once: small, so that an instance that dies holds few rows until their
# lease runs out.
BATCH = 10
# Telegram counts about 30 messages a second overall. PTB's limiter (a leaky bucket) lets a
# burst of 30 through on top of the steady 30/s, and the 429 that follows pauses every
# request for a second; so outbox messages also keep to at most 30 in any one second.
FLOOD_LIMIT = 30
FLOOD_PERIOD = 1.0  # seconds
PER_CHAT = 1.0  # seconds between two messages to one chat
PROGRESS_EVERY = 3.0  # seconds between edits of a batch's progress message


class FloodWindow:
    """At most `limit` sends in any `period` seconds (a sliding window), and one a second to
    any one chat, one send at a time.

    Each send counts from when it ended: Telegram has counted it by then, and a message PTB
    had to send again after a 429 counts from the time it went through."""

    def __init__(self, limit: int = FLOOD_LIMIT, period: float = FLOOD_PERIOD) -> None:
        self.limit, self.period = limit, period
        self._sent: deque[float] = deque()
        self._chats: dict[str, float] = {}  # chats sent to in the last second: when it ended
        self._current = ""

    async def acquire(self, chat: str = "") -> None:
        now = time.monotonic()
        self._chats = {c: at for c, at in self._chats.items() if now - at < PER_CHAT}
        if chat in self._chats:  # a reminder and the quarter's, to one officer, say
            await asyncio.sleep(PER_CHAT - (now - self._chats[chat]))
        self._current = chat
        while True:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return
            await asyncio.sleep(self.period - (now - self._sent[0]))

    def done(self) -> None:
        """The send that last acquired has ended."""
        ended = time.monotonic()
        if self._sent:
            self._sent[-1] = ended
        self._chats[self._current] = ended


async def drain(
    *,
    bot: Bot,
    db: Database,
    now: Callable[[], datetime],
    worker: str,
    lease: timedelta = timedelta(seconds=60),
    limit: int = 100_000,
    progress: Callable[[], Awaitable[None]] | None = None,
    pace: FloodWindow | None = None,
) -> int:
    """Send what is due, batch by batch; the number of rows handled. A claimed row that is
    not marked within `lease` (the instance died) is free for any instance again."""
    handled, shown = 0, time.monotonic()
    while handled < limit:
        async with db.session(write=True) as session:
            rows = await claim(
                session=session, worker=worker, now=now(), limit=BATCH,
                channel=OutboxChannel.TELEGRAM, lease=lease,
            )  # fmt: skip
        if not rows:
            break
        for row in rows:
            if pace is not None:
                await pace.acquire(row.recipient)
            try:
                await _send_one(bot, db, row, now)
            finally:
                if pace is not None:
                    pace.done()
        handled += len(rows)
        if progress is not None and time.monotonic() - shown >= PROGRESS_EVERY:
            await progress()  # a long batch shows how far it got as it goes
            shown = time.monotonic()
    return handled


async def _send_one(
    bot: Bot, db: Database, row: OutboxMessage, now: Callable[[], datetime]
) -> None:
    assert row.id is not None
    error: TelegramError
    try:
        await bot.send_message(
            chat_id=int(row.recipient), text=row.payload["text"], reply_markup=_markup(row)
        )
    except RetryAfter as exc:
        error = exc
        await _later(db, row.id, now() + _wait(exc), str(exc), count=False)
    except Forbidden as exc:
        error = exc
        await _final(db, row.id, OutboxStatus.BLOCKED, str(exc))
    except BadRequest as exc:
        error = exc
        await _final(db, row.id, OutboxStatus.FAILED, str(exc))
    except TelegramError as exc:  # timeouts, network errors, 5xx
        error = exc
        await _later(db, row.id, now() + backoff(row.attempts), str(exc), count=True)
    else:
        async with db.session(write=True) as session:
            await mark_sent(session=session, row_id=row.id, now=now())
        return
    # This attempt's error: the row as claimed holds only the one before.
    log.warning("outbox row %s (%s) not sent: %s", row.id, row.kind, error)


def _markup(row: OutboxMessage) -> InlineKeyboardMarkup | None:
    # Buttons a row carries itself, as rows of [label, callback data] (an application's
    # approve / reject), then the snooze button of a reminder.
    rows = [
        [InlineKeyboardButton(label, callback_data=data) for label, data in line]
        for line in row.payload.get("buttons") or []
    ]
    if row.payload.get("snooze"):
        language = Language(row.payload.get("language", "zh"))
        rows.append(
            [InlineKeyboardButton(t("remind.snooze", language), callback_data=f"sz:{row.id}")]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def _wait(exc: RetryAfter) -> timedelta:
    value = exc.retry_after  # a timedelta: bot/__init__.py opts in to PTB's coming form
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


async def _later(db: Database, row_id: int, at: datetime, error: str, *, count: bool) -> None:
    async with db.session(write=True) as session:
        await mark_later(session=session, row_id=row_id, not_before=at, error=error, count=count)


async def _final(db: Database, row_id: int, status: OutboxStatus, error: str) -> None:
    async with db.session(write=True) as session:
        await mark_final(session=session, row_id=row_id, status=status, error=error)
