"""One reminder tick: plan what fell due since the last tick and put it in the outbox.

Everything is computed from the database and the plan, so a restart or a missed tick
catches up; the outbox's unique keys make a repeated plan harmless, so a restart never
repeats a reminder and two instances ticking at once send nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models.enums import Language, OutboxStatus
from models.outbox import Outgoing, enqueue, known_keys
from models.plan import Plan
from models.tables import ReminderTick
from reminders.messages import missed_text, payload
from reminders.planner import Recipient, Reminder, due_between, split_by_grace
from reminders.snapshot import load_snapshot

MAX_CATCH_UP = timedelta(days=31)  # after a longer outage, older reminders are history


@dataclass(frozen=True)
class Tick:
    start: datetime
    fresh: list[Reminder]  # to send now
    stale: list[Reminder]  # too late to send: the admins are told instead
    admins: tuple[Recipient, ...]
    zone: ZoneInfo


async def plan_tick(
    *, session: AsyncSession, plan: Plan, now: datetime, language: Language, since: datetime | None
) -> Tick:
    """What a tick at `now` sends, after one at `since` (None: the first tick ever, or a
    preview: everything within the grace period that is not in the outbox yet)."""
    grace = timedelta(hours=plan.reminders.grace_hours)
    start = since if since is not None and since <= now else now - grace
    start = max(start, now - MAX_CATCH_UP)
    snap = await load_snapshot(session=session, plan=plan, now=now, default_language=language)
    fresh, stale = split_by_grace(due_between(plan, snap, start, now), now, grace)
    known = await known_keys(session=session, keys=[r.key for r in fresh + stale])
    return Tick(
        start=start,
        fresh=[r for r in fresh if r.key not in known],
        stale=[r for r in stale if r.key not in known],
        admins=snap.admins,
        zone=plan.zone,
    )


async def run_tick(*, db: Database, plan: Plan, now: datetime, language: Language) -> Tick:
    async with db.session(write=True) as session:
        last = await session.get(ReminderTick, 1)
        tick = await plan_tick(
            session=session, plan=plan, now=now, language=language,
            since=None if last is None else last.at,
        )  # fmt: skip
        rows = [
            Outgoing(key=r.key, kind=r.rule.value, recipient=str(r.recipient.chat_id),
                     payload=payload(r), not_before=r.due_at)
            for r in tick.fresh
        ]  # fmt: skip
        rows += _missed(tick, now)
        await enqueue(session=session, rows=rows, now=now)
        if last is None:
            session.add(ReminderTick(id=1, at=now))
        else:
            last.at = now
            session.add(last)
    return tick


def _missed(tick: Tick, now: datetime) -> list[Outgoing]:
    """For reminders too old to send: a 'missed' row each, so that no later tick sends or
    lists them again, and one notice to each admin listing them."""
    if not tick.stale:
        return []
    rows = [
        Outgoing(key=r.key, kind=r.rule.value, recipient=str(r.recipient.chat_id),
                 payload={"rule": r.rule.value}, not_before=r.due_at, status=OutboxStatus.MISSED)
        for r in tick.stale
    ]  # fmt: skip
    for admin in tick.admins:
        rows.append(
            Outgoing(
                key=f"missed|{admin.chat_id}|{tick.start.isoformat()}",
                kind="missed",
                recipient=str(admin.chat_id),
                payload={"text": missed_text(tick.stale, admin, tick.zone)},
                not_before=now,
            )
        )
    return rows
