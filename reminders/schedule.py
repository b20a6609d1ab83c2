"""Seeing and changing the schedule: what is coming for whom, an admin's pause or new time
for a rule, an officer's mute of private copies, and snoozes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import Language
from models.plan import Plan
from models.tables import Officer, OutboxMessage, ReminderSetting, Snooze
from reminders.planner import Reminder, Rule, due_between
from reminders.snapshot import load_snapshot
from reminders.workdays import next_working_day

AHEAD = timedelta(days=14)


@dataclass(frozen=True)
class Coming:
    """One upcoming reminder occasion, however many chats it goes to."""

    due_at: datetime
    rule: Rule
    first: Reminder  # one of its copies, for the explanation
    chats: int


async def upcoming(
    *,
    session: AsyncSession,
    plan: Plan,
    now: datetime,
    language: Language,
    street_id: int | None,
    user_id: int,
) -> list[Coming]:
    """The next two weeks: a street's reminders (and the asker's own), or for an admin
    (street_id None) everything."""
    snap = await load_snapshot(session=session, plan=plan, now=now, default_language=language)
    found = due_between(plan, snap, now, now + AHEAD)
    if street_id is not None:
        found = [r for r in found if r.street_id == street_id or r.recipient.chat_id == user_id]
    grouped: dict[tuple[datetime, Rule, str], list[Reminder]] = {}
    for r in found:
        occasion = r.occasion if street_id is not None else ""
        grouped.setdefault((r.due_at, r.rule, occasion), []).append(r)
    return [
        Coming(due_at=due_at, rule=rule, first=copies[0], chats=len(copies))
        for (due_at, rule, _), copies in grouped.items()
    ]


async def change_rule(
    *,
    session: AsyncSession,
    rule: Rule,
    by_user_id: int,
    now: datetime,
    paused: bool | None = None,
    at: time | None = None,
    default_time: bool = False,
) -> ReminderSetting:
    row = await session.get(ReminderSetting, rule.value)
    before = None if row is None else {"paused": row.paused, "at": _hm(row.at)}
    if row is None:
        row = ReminderSetting(rule=rule.value, changed_by=by_user_id, changed_at=now)
    if paused is not None:
        row.paused = paused
    if at is not None or default_time:
        row.at = at
    row.changed_by, row.changed_at = by_user_id, now
    session.add(row)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="reminder.rule",
        entity="remindersetting", entity_id=rule.value, before=before,
        after={"paused": row.paused, "at": _hm(row.at)},
    )  # fmt: skip
    return row


def _hm(at: time | None) -> str | None:
    return None if at is None else at.strftime("%H:%M")


async def is_muted(*, session: AsyncSession, user_id: int) -> bool:
    found = await session.exec(
        select(Officer.mute_private_reminders).where(Officer.telegram_user_id == user_id)
    )
    return bool(found.first())


async def set_muted(
    *, session: AsyncSession, user_id: int, muted: bool, now: datetime
) -> bool | None:
    """Mute or unmute an officer's private copies of street reminders; None if not one."""
    officer = (
        await session.exec(select(Officer).where(Officer.telegram_user_id == user_id))
    ).first()
    if officer is None:
        return None
    before = officer.mute_private_reminders
    officer.mute_private_reminders = muted
    session.add(officer)
    audit.record(
        session=session, now=now, actor_user_id=user_id, action="officer.mute_reminders",
        entity="officer", entity_id=user_id, before={"muted": before}, after={"muted": muted},
    )  # fmt: skip
    return muted


def snooze_until(plan: Plan, now: datetime, choice: str) -> datetime:
    """ "h": an hour from now; "m": the next working day's morning."""
    if choice == "h":
        return now + timedelta(hours=1)
    tomorrow = now.astimezone(plan.zone).date() + timedelta(days=1)
    morning = plan.reminders.snooze_morning_at
    return datetime.combine(next_working_day(tomorrow), morning, plan.zone)


async def snooze(
    *, session: AsyncSession, row: OutboxMessage, chat_id: int, until: datetime, by: int,
    now: datetime,
) -> None:  # fmt: skip
    """Ask for the reminder again at `until`; a second snooze of the same message moves it."""
    assert row.id is not None
    existing = (await session.exec(select(Snooze).where(Snooze.outbox_id == row.id))).first()
    if existing is None:
        existing = Snooze(outbox_id=row.id, chat_id=chat_id, until=until, by_user_id=by,
                          created_at=now)  # fmt: skip
    existing.until = until
    session.add(existing)
