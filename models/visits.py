"""Visits: district staff's guidance visits to streets (指导), toward the 50% target."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import VisitKind
from models.plan import Plan
from models.tables import Attachment, Unit, Visit


async def log_guidance(
    *, session: AsyncSession, street_id: int, by_user_id: int, on: date, now: datetime
) -> bool:
    """Record a guidance visit to a street; False (nothing written) if that street already
    has one on that day: a second press is the same visit, not another."""
    already = (
        await session.exec(
            select(Visit.id).where(
                Visit.kind == VisitKind.GUIDANCE, Visit.street_id == street_id,
                Visit.visited_on == on,
            )
        )
    ).first()  # fmt: skip
    if already is not None:
        return False
    visit = Visit(
        kind=VisitKind.GUIDANCE, street_id=street_id, officer_user_id=by_user_id, visited_on=on,
        created_at=now,
    )  # fmt: skip
    session.add(visit)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="visit.guidance",
        entity="visit", entity_id=visit.id, after={"street_id": street_id, "on": on.isoformat()},
    )  # fmt: skip
    return True


async def streets_guided(*, session: AsyncSession, plan: Plan, today: date) -> int:
    """Streets with at least one guidance visit this plan year."""
    return (
        await session.exec(
            select(func.count(sa.distinct(col(Visit.street_id)))).where(
                Visit.kind == VisitKind.GUIDANCE,
                col(Visit.visited_on) >= date(plan.plan.year, 1, 1),
                col(Visit.visited_on) <= today,
            )
        )
    ).one()


class VisitPurpose(StrEnum):
    VISIT = "visit"  # 走访
    BRIEFING = "briefing"  # 宣讲
    LETTER = "letter"  # 发函: issue the formation letter
    FOLLOW_UP = "follow_up"  # 跟进


MAX_SUMMARY = 2000  # Visit.summary
MAX_NEXT_STEP = 500  # Visit.next_step
FOLLOW_UP_HORIZON = timedelta(days=366)  # a next step further off is a typing slip


def next_step_date_ok(on: date, *, today: date) -> bool:
    """A follow-up date is today or later, and within a year."""
    return today <= on <= today + FOLLOW_UP_HORIZON


async def log_unit_visit(
    *,
    session: AsyncSession,
    unit_id: int,
    street_id: int,
    purpose: VisitPurpose,
    summary: str,
    next_step: str | None,
    next_step_on: date | None,
    by_user_id: int,
    on: date,
    now: datetime,
    evidence: tuple[dict[str, str], ...] = (),
) -> Visit:
    visit = Visit(
        kind=VisitKind.UNIT, street_id=street_id, unit_id=unit_id, officer_user_id=by_user_id,
        visited_on=on, purpose=purpose.value, summary=summary[:MAX_SUMMARY],
        next_step=(next_step or "")[:MAX_NEXT_STEP] or None, next_step_on=next_step_on,
        created_at=now,
    )  # fmt: skip
    session.add(visit)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="visit.unit",
        entity="visit", entity_id=visit.id,
        after={"unit_id": unit_id, "purpose": purpose.value, "on": on.isoformat(),
               "next_step_on": next_step_on.isoformat() if next_step_on else None},
    )  # fmt: skip
    for item in evidence:
        session.add(
            Attachment(
                visit_id=visit.id, media_kind=item["media_kind"], telegram_file_id=item["file_id"],
                telegram_file_unique_id=item["unique_id"], created_at=now,
            )
        )  # fmt: skip
    return visit


_DATE = re.compile(r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})[日号]?$")


def read_follow_up_date(text: str, *, today: date) -> date | None:
    """A follow-up date as typed: 3月20日, 3.20, 2018-03-20 (full-width digits too). Without
    a year it is the next such day from today on; None if it is not a date, or is past or
    more than a year away."""
    found = _DATE.match(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    year, month, day = (int(g) if g else None for g in found.groups())
    assert month is not None and day is not None
    for candidate_year in [year] if year else [today.year, today.year + 1]:
        try:
            on = date(candidate_year, month, day)
        except ValueError:
            continue  # 2月29日: not this year, perhaps the next
        if next_step_date_ok(on, today=today):
            return on
    return None


def may_change_visit(visit: Visit, *, user_id: int, admin: bool, today: date) -> bool:
    """As with meetings: one's own of the current month, or any for an admin."""
    if admin:
        return True
    same_month = (visit.visited_on.year, visit.visited_on.month) == (today.year, today.month)
    return visit.officer_user_id == user_id and same_month


async def recent_unit_visits(
    *, session: AsyncSession, user_id: int, admin: bool, today: date, limit: int = 10
) -> list[tuple[Visit, str]]:
    """This month's unit visits the user may change, newest first, with the unit's name."""
    query = (
        select(Visit, Unit.name)
        .join(Unit, col(Unit.id) == Visit.unit_id)
        .where(Visit.kind == VisitKind.UNIT, col(Visit.visited_on) >= today.replace(day=1))
    )
    if not admin:
        query = query.where(Visit.officer_user_id == user_id)
    query = query.order_by(col(Visit.visited_on).desc(), col(Visit.id).desc()).limit(limit)
    return [(visit, name) for visit, name in (await session.exec(query)).all()]


async def delete_visit(
    *, session: AsyncSession, visit_id: int, by_user_id: int, now: datetime
) -> bool:
    visit = await session.get(Visit, visit_id)
    if visit is None:
        return False
    for attachment in (
        await session.exec(select(Attachment).where(Attachment.visit_id == visit_id))
    ).all():
        await session.delete(attachment)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="visit.delete",
        entity="visit", entity_id=visit_id,
        before={"unit_id": visit.unit_id, "on": visit.visited_on.isoformat(),
                "purpose": visit.purpose, "summary": visit.summary},
    )  # fmt: skip
    await session.delete(visit)
    return True
