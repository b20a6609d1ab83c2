"""The three-way comparison (三方比对): the tax list, social security and the member management
system side by side, and the blind spots each one's data reveals about the others.

The unit table is the tax list (`tax_headcount`); social security adds a second headcount
(`social_security_headcount`, None when it has no record of the unit) and the member system
its member count and whether the unit is collected. Units that social security or the member
system lists but the tax list does not are `SourceUnit` rows. Counts are one grouped query
over the units and one over those rows, whatever the district's size; lists are paged in the
database, largest headcount first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import Role, UnitStatus
from models.plan import Plan
from models.tables import DataImport, SourceUnit, Street, Unit
from models.tabular import CellKind, Label, Sheet, SheetColumn
from models.units import PAGE_SIZE


class BlindSpot(StrEnum):
    UNORGANISED_100 = "unorganised_100"  # ≥100 by tax OR social security, not unionised
    LOW_MEMBERSHIP = "low_membership"  # collected, but few members for its headcount
    TAX_ONLY = "tax_only"  # on the tax list, unknown to social security
    SOCIAL_ONLY = "social_only"  # insured by social security, not on the tax list
    MEMBER_SYSTEM_ONLY = "member_system_only"  # in the member system, not on the tax list
    NOT_IN_MEMBER_SYSTEM = "not_in_member_system"  # marked collected, no member records


# DataImport.kind of each source, in the order they are shown.
SOURCES = ("units", "social", "member_system")
# Blind spots that are rows of the unit table, and those that are SourceUnit rows (by source).
UNIT_SPOTS = (
    BlindSpot.UNORGANISED_100,
    BlindSpot.LOW_MEMBERSHIP,
    BlindSpot.TAX_ONLY,
    BlindSpot.NOT_IN_MEMBER_SYSTEM,
)
SOURCE_OF = {BlindSpot.SOCIAL_ONLY: "social", BlindSpot.MEMBER_SYSTEM_ONLY: "member_system"}


def may_compare(*, role: Role | None, own_street_id: int | None, street_id: int | None) -> bool:
    """District admins compare the district and any street; a street officer their own street
    only; community workers and strangers nothing (the lists name units and their figures)."""
    if role is Role.DISTRICT_ADMIN:
        return True
    return role is Role.STREET_OFFICER and street_id is not None and street_id == own_street_id


# --- the conditions, as SQL -----------------------------------------------------------------


def _headcount() -> Any:
    """A unit's headcount for the comparison: the larger of tax and social security (a unit
    social security has no record of counts by its tax headcount)."""
    tax, social = col(Unit.tax_headcount), col(Unit.social_security_headcount)
    return sa.case((social > tax, social), else_=tax)


def _conditions(plan: Plan) -> dict[BlindSpot, sa.ColumnElement[bool]]:
    floor = plan.targets.unionise_100_plus.min_headcount
    rule = plan.comparison
    tax, social = col(Unit.tax_headcount), col(Unit.social_security_headcount)
    members, collected = col(Unit.member_count), col(Unit.member_system_collected)
    unionised = sa.and_(collected, col(Unit.legal_person_certified))
    # members / headcount < p / q, in integers: exact on every backend.
    p, q = rule.low_membership_ratio.as_integer_ratio()
    headcount = _headcount()
    return {
        BlindSpot.UNORGANISED_100: sa.and_(sa.or_(tax >= floor, social >= floor), ~unionised),
        # Collected with no member records at all is its own blind spot (below).
        BlindSpot.LOW_MEMBERSHIP: sa.and_(
            collected,
            members > 0,
            headcount >= rule.low_membership_min_headcount,
            members * q < headcount * p,
        ),
        # A unit the latest tax list left out (missing_since) is no longer "on the tax list":
        # dynamic management decides about it, not the comparison.
        BlindSpot.TAX_ONLY: sa.and_(social.is_(None), col(Unit.missing_since).is_(None)),
        BlindSpot.NOT_IN_MEMBER_SYSTEM: sa.and_(collected, members == 0),
    }


def _hidden_by_tax(plan: Plan) -> sa.ColumnElement[bool]:
    """Over the line by social security only: the tax data alone would not list the unit."""
    floor = plan.targets.unionise_100_plus.min_headcount
    tax, social = col(Unit.tax_headcount), col(Unit.social_security_headcount)
    return sa.and_(tax < floor, social >= floor)


def _units_in(street_id: int | None) -> list[sa.ColumnElement[bool]]:
    where = [col(Unit.status) == UnitStatus.ACTIVE]
    if street_id is not None:
        where.append(col(Unit.street_id) == street_id)
    return where


def _orphans(source: str | None, street_id: int | None) -> list[sa.ColumnElement[bool]]:
    """SourceUnit rows whose code the unit table does not (or no longer) hold."""
    known = sa.exists().where(col(Unit.credit_code) == col(SourceUnit.credit_code))
    where: list[sa.ColumnElement[bool]] = [~known]
    if source is not None:
        where.append(col(SourceUnit.source) == source)
    if street_id is not None:
        where.append(col(SourceUnit.street_id) == street_id)
    return where


# --- counts ---------------------------------------------------------------------------------


@dataclass
class SpotCounts:
    counts: dict[BlindSpot, int] = field(default_factory=lambda: dict.fromkeys(BlindSpot, 0))
    hidden_by_tax: int = 0  # of UNORGANISED_100: over the line by social security only

    def __getitem__(self, spot: BlindSpot) -> int:
        return self.counts[spot]

    @property
    def any(self) -> bool:
        return any(self.counts.values())


@dataclass(frozen=True)
class Comparison:
    street_id: int | None  # None: the district
    total: SpotCounts
    # Each street's counts (district only), in the plan's order; the key None holds the
    # social-security and member-system rows that name no known street.
    by_street: list[tuple[int | None, str | None, SpotCounts]]
    imports: dict[str, datetime | None]  # when each source was last imported (None: never)


async def last_imports(*, session: AsyncSession) -> dict[str, datetime | None]:
    rows = (
        await session.exec(
            select(DataImport.kind, func.max(DataImport.at)).group_by(col(DataImport.kind))
        )
    ).all()
    latest: dict[str, datetime | None] = dict.fromkeys(SOURCES)
    latest.update({kind: at for kind, at in rows if kind in latest})
    return latest


async def compare(*, session: AsyncSession, plan: Plan, street_id: int | None) -> Comparison:
    """Every blind spot counted, for one street or the district (then per street too)."""
    conditions = _conditions(plan)

    def tally(condition: sa.ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(sa.case((condition, 1), else_=0)), 0)

    unit_rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                col(Unit.street_id),
                *(tally(conditions[spot]) for spot in UNIT_SPOTS),
                tally(sa.and_(conditions[BlindSpot.UNORGANISED_100], _hidden_by_tax(plan))),
            )
            .where(*_units_in(street_id))
            .group_by(col(Unit.street_id))
        )
    ).all()
    source_rows = (
        await session.exec(
            select(col(SourceUnit.source), col(SourceUnit.street_id), func.count())
            .where(*_orphans(None, street_id))
            .group_by(col(SourceUnit.source), col(SourceUnit.street_id))
        )
    ).all()
    per_street: dict[int | None, SpotCounts] = {}
    for row in unit_rows:
        counts = per_street.setdefault(row[0], SpotCounts())
        for spot, n in zip(UNIT_SPOTS, row[1:-1], strict=True):
            counts.counts[spot] = int(n)
        counts.hidden_by_tax = int(row[-1])
    spot_of = {source: spot for spot, source in SOURCE_OF.items()}
    for source, street, n in source_rows:
        if source in spot_of:
            per_street.setdefault(street, SpotCounts()).counts[spot_of[source]] += n
    total = SpotCounts()
    for counts in per_street.values():
        for spot in BlindSpot:
            total.counts[spot] += counts[spot]
        total.hidden_by_tax += counts.hidden_by_tax
    by_street: list[tuple[int | None, str | None, SpotCounts]] = []
    if street_id is None:
        streets = (
            await session.exec(select(Street.id, Street.name).order_by(col(Street.position)))
        ).all()
        by_street = [(id_, name, per_street.get(id_, SpotCounts())) for id_, name in streets]
        unknown = per_street.get(None)
        if unknown is not None and unknown.any:
            by_street.append((None, None, unknown))
    return Comparison(
        street_id=street_id,
        total=total,
        by_street=by_street,
        imports=await last_imports(session=session),
    )


# --- lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotLine:
    """One blind spot with the figures that make it one. A unit of the unit table has a
    `unit_id`; a unit only social security or the member system lists, a `source_unit_id`."""

    spot: BlindSpot
    name: str
    credit_code: str
    street_name: str | None
    unit_id: int | None = None
    source_unit_id: int | None = None
    tax_headcount: int | None = None
    social_headcount: int | None = None
    member_count: int | None = None
    collected: bool = False
    certified: bool = False

    @property
    def headcount(self) -> int:
        """The larger of the headcounts this line knows."""
        return max(self.tax_headcount or 0, self.social_headcount or 0)

    @property
    def membership(self) -> Decimal | None:
        """Members as a share of the headcount (None without both)."""
        if self.member_count is None or not self.headcount:
            return None
        return Decimal(self.member_count) / Decimal(self.headcount)

    def hidden_by_tax(self, plan: Plan) -> bool:
        floor = plan.targets.unionise_100_plus.min_headcount
        return (self.tax_headcount or 0) < floor <= (self.social_headcount or 0)


@dataclass(frozen=True)
class SpotPage:
    spot: BlindSpot
    lines: list[SpotLine]
    total: int
    page: int  # 0-based, clamped into range
    pages: int


def _unit_query(plan: Plan, spot: BlindSpot, street_id: int | None) -> Any:
    return (
        select(  # type: ignore[call-overload]
            Unit.id,
            Unit.name,
            Unit.credit_code,
            Street.name,
            Unit.tax_headcount,
            Unit.social_security_headcount,
            Unit.member_count,
            Unit.member_system_collected,
            Unit.legal_person_certified,
        )
        .join(Street, col(Street.id) == Unit.street_id)
        .where(*_units_in(street_id), _conditions(plan)[spot])
        .order_by(_headcount().desc(), col(Unit.id))
    )


def _unit_lines(spot: BlindSpot, rows: Sequence[Any]) -> list[SpotLine]:
    return [
        SpotLine(
            spot=spot,
            unit_id=r[0],
            name=r[1],
            credit_code=r[2],
            street_name=r[3],
            tax_headcount=r[4],
            social_headcount=r[5],
            member_count=r[6],
            collected=r[7],
            certified=r[8],
        )
        for r in rows
    ]


def _source_query(spot: BlindSpot, street_id: int | None) -> Any:
    return (
        select(  # type: ignore[call-overload]
            SourceUnit.id,
            SourceUnit.name,
            SourceUnit.credit_code,
            Street.name,
            SourceUnit.headcount,
        )
        .join(Street, col(Street.id) == SourceUnit.street_id, isouter=True)
        .where(*_orphans(SOURCE_OF[spot], street_id))
        .order_by(col(SourceUnit.headcount).desc(), col(SourceUnit.id))
    )


def _source_lines(spot: BlindSpot, rows: Sequence[Any]) -> list[SpotLine]:
    social = spot is BlindSpot.SOCIAL_ONLY
    return [
        SpotLine(
            spot=spot,
            source_unit_id=r[0],
            name=r[1],
            credit_code=r[2],
            street_name=r[3],
            social_headcount=r[4] if social else None,
            member_count=None if social else r[4],
        )
        for r in rows
    ]


async def _count(session: AsyncSession, plan: Plan, spot: BlindSpot, street_id: int | None) -> int:
    if spot in SOURCE_OF:
        where = _orphans(SOURCE_OF[spot], street_id)
        query = select(func.count()).select_from(SourceUnit).where(*where)
    else:
        where = [*_units_in(street_id), _conditions(plan)[spot]]
        query = select(func.count()).select_from(Unit).where(*where)
    return (await session.exec(query)).one()


async def spot_lines(
    *,
    session: AsyncSession,
    plan: Plan,
    spot: BlindSpot,
    street_id: int | None,
    offset: int = 0,
    limit: int | None = None,
) -> list[SpotLine]:
    """A blind spot's units, largest headcount first."""
    query = (
        _source_query(spot, street_id) if spot in SOURCE_OF else _unit_query(plan, spot, street_id)
    )
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.exec(query)).all()
    return _source_lines(spot, rows) if spot in SOURCE_OF else _unit_lines(spot, rows)


async def spot_page(
    *, session: AsyncSession, plan: Plan, spot: BlindSpot, street_id: int | None, page: int
) -> SpotPage:
    total = await _count(session, plan, spot, street_id)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    lines = await spot_lines(
        session=session, plan=plan, spot=spot, street_id=street_id,
        offset=page * PAGE_SIZE, limit=PAGE_SIZE,
    )  # fmt: skip
    return SpotPage(spot=spot, lines=lines, total=total, page=page, pages=pages)


# --- a unit only social security or the member system knows -----------------------------------


@dataclass(frozen=True)
class SourceCard:
    source_unit_id: int
    source: str  # social | member_system
    name: str
    credit_code: str
    street_id: int | None
    street_name: str | None
    headcount: int  # insured (social) or member records (member_system)
    file_name: str
    imported_at: datetime


async def source_card(*, session: AsyncSession, source_unit_id: int) -> SourceCard | None:
    row = (
        await session.exec(
            select(SourceUnit, Street.name, DataImport.file_name, DataImport.at)
            .join(Street, col(Street.id) == SourceUnit.street_id, isouter=True)
            .join(DataImport, col(DataImport.id) == SourceUnit.import_id)
            .where(SourceUnit.id == source_unit_id)
        )
    ).first()
    if row is None:
        return None
    unit, street_name, file_name, at = row
    assert unit.id is not None
    return SourceCard(
        source_unit_id=unit.id, source=unit.source, name=unit.name,
        credit_code=unit.credit_code, street_id=unit.street_id, street_name=street_name,
        headcount=unit.headcount, file_name=file_name, imported_at=at,
    )  # fmt: skip


# --- the spreadsheet ----------------------------------------------------------------------------


def _col(key: str, kind: CellKind = CellKind.INT, width: int = 10) -> SheetColumn:
    return SheetColumn(f"compare.col.{key}", kind, width)


_IDENTITY = (_col("name", CellKind.TEXT, 36), _col("code", CellKind.TEXT, 20),
             _col("street", CellKind.TEXT, 12))  # fmt: skip
COLUMNS: dict[BlindSpot, tuple[SheetColumn, ...]] = {
    BlindSpot.UNORGANISED_100: (
        *_IDENTITY, _col("tax"), _col("social"), _col("members"),
        _col("collected", CellKind.BOOL), _col("certified", CellKind.BOOL),
        _col("hidden_by_tax", CellKind.BOOL, 14),
    ),
    BlindSpot.LOW_MEMBERSHIP: (
        *_IDENTITY, _col("tax"), _col("social"), _col("members"),
        _col("membership", CellKind.PERCENT),
    ),
    BlindSpot.TAX_ONLY: (*_IDENTITY, _col("tax"), _col("members"),
                         _col("unionised", CellKind.BOOL)),
    BlindSpot.SOCIAL_ONLY: (*_IDENTITY, _col("social")),
    BlindSpot.MEMBER_SYSTEM_ONLY: (*_IDENTITY, _col("member_records", width=12)),
    BlindSpot.NOT_IN_MEMBER_SYSTEM: (*_IDENTITY, _col("tax"), _col("social"), _col("members")),
}  # fmt: skip


def sheet_row(line: SpotLine, plan: Plan) -> tuple[object, ...]:
    """A line as the spreadsheet shows it, one value per column of its blind spot."""
    street = line.street_name or Label("compare.street_unknown")
    identity = (line.name, line.credit_code, street)
    spot = line.spot
    if spot is BlindSpot.UNORGANISED_100:
        return (*identity, line.tax_headcount, line.social_headcount, line.member_count,
                line.collected, line.certified, line.hidden_by_tax(plan))  # fmt: skip
    if spot is BlindSpot.LOW_MEMBERSHIP:
        share = line.membership
        return (*identity, line.tax_headcount, line.social_headcount, line.member_count,
                None if share is None else float(share))  # fmt: skip
    if spot is BlindSpot.TAX_ONLY:
        return (*identity, line.tax_headcount, line.member_count,
                line.collected and line.certified)  # fmt: skip
    if spot is BlindSpot.SOCIAL_ONLY:
        return (*identity, line.social_headcount)
    if spot is BlindSpot.MEMBER_SYSTEM_ONLY:
        return (*identity, line.member_count)
    return (*identity, line.tax_headcount, line.social_headcount, line.member_count)


async def comparison_sheets(
    *,
    session: AsyncSession,
    plan: Plan,
    street_id: int | None,
    today: date | None = None,
    period: object = None,
) -> list[Sheet]:
    """One sheet per blind spot, for one street or the district, largest headcount first.
    The comparison is as the data stands: an export's `today` and `period` change nothing."""
    sheets = []
    for spot in BlindSpot:
        lines = await spot_lines(session=session, plan=plan, spot=spot, street_id=street_id)
        rows = [sheet_row(line, plan) for line in lines]
        sheets.append(Sheet(f"compare.sheet.{spot.value}", COLUMNS[spot], rows, len(rows)))
    return sheets
