"""Live figures from the database, set against the plan: what has been done, what remains."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import UnitStatus
from models.plan import Plan
from models.rules import Remaining, rate_percent, remaining_units_to_unionise
from models.tables import StreetTarget, Unit


@dataclass(frozen=True)
class UnitCounts:
    """Counts over the active target units of the district or of one street."""

    units: int
    unionised: int
    workers: int
    members: int
    units_100_plus: int
    unionised_100_plus: int
    newly_unionised_100_plus: int  # unionised after the plan's baseline date

    @property
    def unionised_rate(self) -> Decimal:
        return rate_percent(self.unionised, self.units)

    @property
    def member_coverage(self) -> Decimal:
        return rate_percent(self.members, self.workers)

    @property
    def rate_100_plus(self) -> Decimal:
        return rate_percent(self.unionised_100_plus, self.units_100_plus)


async def unit_counts(
    *, session: AsyncSession, plan: Plan, street_id: int | None = None
) -> UnitCounts:
    target = plan.targets.unionise_100_plus
    unionised = sa.and_(col(Unit.member_system_collected), col(Unit.legal_person_certified))
    big = col(Unit.tax_headcount) >= target.min_headcount
    new = col(Unit.unionised_on) > plan.baseline.as_of

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return func.coalesce(func.sum(sa.case((condition, 1), else_=0)), 0)

    # SQLAlchemy's select: sqlmodel's typed one takes at most four columns.
    query = sa.select(
        func.count(),
        count(unionised),
        func.coalesce(func.sum(Unit.tax_headcount), 0),
        func.coalesce(func.sum(Unit.member_count), 0),
        count(big),
        count(sa.and_(big, unionised)),
        count(sa.and_(big, unionised, new)),
    ).where(col(Unit.status) == UnitStatus.ACTIVE)
    if street_id is not None:
        query = query.where(col(Unit.street_id) == street_id)
    row = (await session.exec(query)).one()  # type: ignore[call-overload]
    return UnitCounts(*(int(v) for v in row))


async def street_allocation(*, session: AsyncSession, plan: Plan, street_id: int) -> int:
    """The street's share of the district's count of new ≥100 unions (0 if none set)."""
    allocated = (
        await session.exec(
            select(StreetTarget.new_units).where(
                StreetTarget.plan_key == plan.plan.key, StreetTarget.street_id == street_id
            )
        )
    ).first()
    return allocated or 0


def remaining_for(counts: UnitCounts, plan: Plan, *, min_new_units: int) -> Remaining:
    target = plan.targets.unionise_100_plus
    return remaining_units_to_unionise(
        total=counts.units_100_plus,
        unionised=counts.unionised_100_plus,
        newly_unionised=counts.newly_unionised_100_plus,
        min_rate=target.min_rate,
        min_new_units=min_new_units,
    )
