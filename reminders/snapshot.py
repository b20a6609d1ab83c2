"""The facts the planner needs, read from the database in one short transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import ChatScope, Language, LedgerOutcome, MeetingKind, Role, VisitKind
from models.plan import Plan
from models.status import DistrictStatus, district_status
from models.tables import (
    ChatBinding,
    LedgerEntry,
    Meeting,
    Officer,
    OutboxMessage,
    ReminderSetting,
    ReportSubmission,
    Snooze,
    Unit,
    Visit,
)
from reminders.planner import (
    Digest,
    FollowUp,
    Recipient,
    Rule,
    RuleSetting,
    Snapshot,
    Snoozed,
    StreetFacts,
)

_RECENT = timedelta(days=30)  # follow-ups and snoozes further back than this are history


async def load_snapshot(
    *, session: AsyncSession, plan: Plan, now: datetime, default_language: Language
) -> Snapshot:
    today = now.astimezone(plan.zone).date()
    status = await district_status(session=session, plan=plan, today=today)  # one pass
    rows = sorted(status.ranking, key=lambda row: row.position)
    officers = (await session.exec(select(Officer).where(col(Officer.active)))).all()
    bindings = (await session.exec(select(ChatBinding))).all()
    streets = tuple(
        StreetFacts(
            street_id=row.street_id,
            name=row.name,
            share=row.share,
            formation_left=row.remaining,
            meetings_held=row.meetings,
            recipients=_street_recipients(row.street_id, officers, bindings, default_language),
        )
        for row in rows
    )
    admins = tuple(
        [_group(b.chat_id, default_language) for b in bindings if b.scope is ChatScope.DISTRICT]
        + [_private(o) for o in officers if o.role is Role.DISTRICT_ADMIN]
    )
    submitted = frozenset(
        (street_id, str(kind), period)
        for street_id, kind, period in (
            await session.exec(
                select(ReportSubmission.street_id, ReportSubmission.kind, ReportSubmission.period)
            )
        ).all()
    )
    return Snapshot(
        streets=streets,
        admins=admins,
        submitted=submitted,
        follow_ups=await _follow_ups(session, today, officers),
        snoozes=await _snoozes(session, now, default_language),
        settings=await rule_settings(session=session),
        digest=await _digest(session, status, today),
    )


def _private(officer: Officer) -> Recipient:
    return Recipient(
        chat_id=officer.telegram_user_id,
        language=Language(officer.language),
        private=True,
        name=officer.display_name or str(officer.telegram_user_id),
    )


def _group(chat_id: int, language: Language) -> Recipient:
    return Recipient(chat_id=chat_id, language=language, private=False, name=f"group {chat_id}")


def _street_recipients(
    street_id: int,
    officers: Sequence[Officer],
    bindings: Sequence[ChatBinding],
    language: Language,
) -> tuple[Recipient, ...]:
    groups = [
        _group(b.chat_id, language)
        for b in bindings
        if b.scope is ChatScope.STREET and b.street_id == street_id
    ]
    people = [
        _private(o)
        for o in officers
        if o.street_id == street_id and o.role is not Role.DISTRICT_ADMIN
        and not o.mute_private_reminders  # officers may mute their private copies
    ]  # fmt: skip
    return tuple(groups + people)


async def rule_settings(*, session: AsyncSession) -> dict[Rule, RuleSetting]:
    found = (await session.exec(select(ReminderSetting))).all()
    return {
        Rule(s.rule): RuleSetting(paused=s.paused, at=s.at)
        for s in found
        if s.rule in Rule._value2member_map_
    }


async def _follow_ups(
    session: AsyncSession, today: date, officers: Sequence[Officer]
) -> tuple[FollowUp, ...]:
    """Visits with a next step due around now, for units still to unionise."""
    by_user = {o.telegram_user_id: o for o in officers}
    found = await session.exec(
        select(Visit, Unit.name)
        .join(Unit, col(Visit.unit_id) == Unit.id)
        .join(LedgerEntry, col(LedgerEntry.unit_id) == Unit.id, isouter=True)
        .where(
            Visit.kind == VisitKind.UNIT,
            col(Visit.next_step_on).between(today - _RECENT, today + _RECENT),
            sa.not_(sa.and_(col(Unit.member_system_collected), col(Unit.legal_person_certified))),
            sa.or_(col(LedgerEntry.id).is_(None), col(LedgerEntry.outcome) == LedgerOutcome.OPEN),
        )
    )
    follow_ups = []
    for visit, unit_name in found.all():
        officer = by_user.get(visit.officer_user_id)
        if officer is None or visit.next_step_on is None or visit.id is None:
            continue  # an officer who has left is not reminded
        follow_ups.append(
            FollowUp(
                visit_id=visit.id,
                street_id=visit.street_id,
                unit_name=unit_name,
                next_step=visit.next_step or "",
                on=visit.next_step_on,
                recipient=_private(officer),
            )
        )
    return tuple(follow_ups)


async def _snoozes(session: AsyncSession, now: datetime, language: Language) -> tuple[Snoozed, ...]:
    found = await session.exec(
        select(Snooze, OutboxMessage.payload)
        .join(OutboxMessage, col(Snooze.outbox_id) == OutboxMessage.id)
        .where(col(Snooze.until) >= now - _RECENT)
    )
    snoozes = []
    for snooze, payload in found.all():
        assert snooze.id is not None
        snoozes.append(
            Snoozed(
                snooze_id=snooze.id,
                rule=Rule(payload["rule"]),
                street_id=payload.get("street_id"),
                occasion=payload["occasion"],
                nominal=date.fromisoformat(payload["nominal"]),
                recipient=Recipient(
                    chat_id=snooze.chat_id,
                    language=Language(payload.get("language", language)),
                    private=bool(payload.get("private")),
                    name=payload.get("name", str(snooze.chat_id)),
                ),
                until=snooze.until,
            )
        )
    return tuple(snoozes)


async def _digest(session: AsyncSession, status: DistrictStatus, today: date) -> Digest:
    week_ago = today - timedelta(days=7)
    new_units = await session.exec(
        select(sa.func.count()).where(
            col(Unit.unionised_on) >= week_ago, col(Unit.unionised_on) < today
        )
    )
    meetings = await session.exec(
        select(sa.func.count()).where(
            Meeting.kind == MeetingKind.WORKER,
            col(Meeting.held_on) >= week_ago,
            col(Meeting.held_on) < today,
        )
    )
    return Digest(
        remaining_100_plus=status.remaining.overall,
        new_units_week=new_units.one(),
        meetings_week=meetings.one(),
        meetings_held=status.meetings_held,
        streets_behind=tuple(r.name for r in status.ranking if r.behind),
    )
