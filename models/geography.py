"""Streets and zones come from the plan file; the database mirrors them."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import StreetKind
from models.plan import Plan
from models.tables import Street, Zone


async def sync_geography(*, session: AsyncSession, plan: Plan) -> None:
    """Add the plan's streets and zones that the database lacks; keep the plan's order.

    Streets are never deleted here: units, meetings and reports point at them.
    """
    streets = {s.name: s for s in (await session.exec(select(Street))).all()}
    for position, spec in enumerate(plan.streets):
        street = streets.get(spec.name) or Street(name=spec.name, kind=StreetKind(spec.kind))
        street.position = position
        session.add(street)
    zones = set((await session.exec(select(Zone.name))).all())
    session.add_all(Zone(name=z.name) for z in plan.zones if z.name not in zones)
    await session.flush()


async def street_ids(*, session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(select(Street.name, Street.id).order_by(col(Street.position)))
    return {name: id_ for name, id_ in rows.all() if id_ is not None}


async def zone_ids(*, session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(select(Zone.name, Zone.id))
    return {name: id_ for name, id_ in rows.all() if id_ is not None}
