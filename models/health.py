"""Is the bot healthy? The figures an operator needs, for the /health endpoint of webhook mode
and the /health command alike: the outbox's backlog (what is due and not sent yet, by
channel), what it gave up on, and when reminders were last planned.

Pure: the database session and `now` come from the caller, who also measures how long the
database took to answer (bot/health.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import OutboxChannel, OutboxStatus
from models.outbox import counts
from models.tables import OutboxMessage, ReminderTick

# A tick may run late by a little (a slow tick, a busy machine); one missed tick is no alarm.
TICK_SLACK = timedelta(seconds=60)


@dataclass(frozen=True)
class Backlog:
    """One channel of the outbox."""

    channel: OutboxChannel
    due: int  # pending rows whose time has come: what the sender has yet to send
    oldest_due: datetime | None  # when the oldest of them fell due
    failed: int  # given up after retries (/outbox retries them)
    blocked: int  # the recipient blocked the bot

    def oldest_age(self, now: datetime) -> timedelta | None:
        return None if self.oldest_due is None else max(now - self.oldest_due, timedelta(0))


@dataclass(frozen=True)
class Figures:
    now: datetime
    backlog: tuple[Backlog, ...]  # every channel, in OutboxChannel's order
    last_tick: datetime | None  # None: reminders were never planned on this database

    @property
    def tick_age(self) -> timedelta | None:
        return None if self.last_tick is None else max(self.now - self.last_tick, timedelta(0))

    def tick_overdue(self, every_seconds: int) -> bool | None:
        """Whether the reminder tick is late for its interval (REMINDER_TICK_SECONDS): more
        than two intervals and a minute of slack without one. None: reminders are off."""
        if every_seconds == 0:
            return None
        age = self.tick_age
        return age is None or age > 2 * timedelta(seconds=every_seconds) + TICK_SLACK


async def gather(*, session: AsyncSession, now: datetime) -> Figures:
    due = await session.exec(
        select(OutboxMessage.channel, sa.func.count(), sa.func.min(col(OutboxMessage.not_before)))
        .where(OutboxMessage.status == OutboxStatus.PENDING, col(OutboxMessage.not_before) <= now)
        .group_by(col(OutboxMessage.channel))
    )
    pending = {OutboxChannel(channel): (n, oldest) for channel, n, oldest in due.all()}
    tally = await counts(session=session)
    backlog = tuple(
        Backlog(
            channel=channel,
            due=pending.get(channel, (0, None))[0],
            oldest_due=pending.get(channel, (0, None))[1],
            failed=tally.get((channel, OutboxStatus.FAILED), 0),
            blocked=tally.get((channel, OutboxStatus.BLOCKED), 0),
        )
        for channel in OutboxChannel
    )
    tick = await session.get(ReminderTick, 1)
    return Figures(now=now, backlog=backlog, last_tick=None if tick is None else tick.at)


@dataclass(frozen=True)
class Health:
    """The whole answer: the database's, and the figures when it answered."""

    now: datetime
    database_ok: bool
    latency_ms: float | None  # how long SELECT 1 took; None when it did not answer
    problem: str | None  # why not, as an exception's class name: never its text (a DSN …)
    figures: Figures | None
    tick_seconds: int  # REMINDER_TICK_SECONDS; 0: reminders off
    mode: str  # polling | webhook | console
    instance: str  # the outbox claimer's name: host:pid:random
    version: str

    def as_json(self) -> dict[str, Any]:
        """The /health endpoint's body: plain JSON, times in ISO 8601 UTC, ages in seconds."""
        body: dict[str, Any] = {
            "status": "ok" if self.database_ok else "unavailable",
            "now": self.now.isoformat(),
            "database": {
                "ok": self.database_ok,
                "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 2),
                "error": self.problem,
            },
            "outbox": None,
            "reminders": None,
            "mode": self.mode,
            "instance": self.instance,
            "version": self.version,
        }
        if self.figures is not None:
            body["outbox"] = {
                b.channel.value: {
                    "due": b.due,
                    "oldest_due_at": _iso(b.oldest_due),
                    "oldest_due_age_seconds": _seconds(b.oldest_age(self.now)),
                    "failed": b.failed,
                    "blocked": b.blocked,
                }
                for b in self.figures.backlog
            }
            body["reminders"] = {
                "last_tick_at": _iso(self.figures.last_tick),
                "last_tick_age_seconds": _seconds(self.figures.tick_age),
                "tick_seconds": self.tick_seconds,
                "overdue": self.figures.tick_overdue(self.tick_seconds),
            }
        return body


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _seconds(span: timedelta | None) -> float | None:
    return None if span is None else round(span.total_seconds(), 1)
