"""Visits: district staff's guidance visits to streets (指导), toward the 50% target."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import VisitKind
from models.plan import Plan
from models.tables import Visit


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
