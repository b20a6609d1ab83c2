"""Target units: the list of those still to unionise, filtered and paged, and one unit's card."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.credit_code import is_valid_credit_code
from models.enums import LedgerOutcome, LedgerStage, Ownership, Role, UnitStatus
from models.plan import Plan, Range
from models.rules import is_unionised, responsibility_tier, size_band
from models.tables import LedgerEntry, LedgerStageChange, Officer, Street, Unit, Visit, Zone

MAX_UNIT_NAME = 128  # Unit.name
PAGE_SIZE = 8  # lines that fit a phone screen with their buttons


def can_see_units(*, role: Role | None, own_street_id: int | None, street_id: int | None) -> bool:
    """Unit lists are a street's own business: district admins see every street's, an
    officer only their own street's, and nobody but an admin the district-wide list."""
    if role is Role.DISTRICT_ADMIN:
        return True
    return role is not None and street_id is not None and street_id == own_street_id


@dataclass(frozen=True)
class UnitFilter:
    """Which remaining ≥100 units to list. Bands and tiers are keys of the plan's ranges."""

    street_id: int | None = None
    band: str | None = None
    tier: str | None = None
    zone_id: int | None = None
    stage: LedgerStage | None = None


@dataclass(frozen=True)
class UnitLine:
    unit_id: int
    name: str
    street_name: str
    headcount: int
    stage: LedgerStage | None
    dues_paid_uncollected: bool


@dataclass(frozen=True)
class UnitPage:
    lines: list[UnitLine]
    total: int
    page: int  # 0-based, clamped into range
    pages: int


def _in_range(headcount: Any, r: Range) -> sa.ColumnElement[bool]:
    above = headcount >= r.min
    return above if r.max is None else sa.and_(above, headcount <= r.max)


def _line_columns() -> Any:
    """What a list line shows: the unit, its street, size, ledger stage and dues flag."""
    return sa.select(  # type: ignore[call-overload]
        Unit.id, Unit.name, Street.name, Unit.tax_headcount, LedgerEntry.stage,
        Unit.dues_paid_uncollected,
    )  # fmt: skip


def _lines(rows: Any) -> list[UnitLine]:
    return [
        UnitLine(r[0], r[1], r[2], r[3], LedgerStage(r[4]) if r[4] else None, r[5]) for r in rows
    ]


async def remaining_units(
    *, session: AsyncSession, plan: Plan, where: UnitFilter, page: int
) -> UnitPage:
    """Active ≥100 units not yet unionised; dues-paying ones first (the plan: do these
    first), then the largest."""
    headcount = col(Unit.tax_headcount)
    conditions: list[sa.ColumnElement[bool]] = [
        col(Unit.status) == UnitStatus.ACTIVE,
        headcount >= plan.targets.unionise_100_plus.min_headcount,
        sa.not_(sa.and_(col(Unit.member_system_collected), col(Unit.legal_person_certified))),
    ]
    if where.street_id is not None:
        conditions.append(col(Unit.street_id) == where.street_id)
    if where.zone_id is not None:
        conditions.append(col(Unit.zone_id) == where.zone_id)
    for key, ranges in ((where.band, plan.size_bands), (where.tier, plan.responsibility_tiers)):
        if key is not None:
            conditions.append(_in_range(headcount, next(r for r in ranges if r.key == key)))
    if where.stage is not None:
        conditions.append(col(LedgerEntry.stage) == where.stage)
    ledger = sa.and_(
        col(LedgerEntry.unit_id) == Unit.id, col(LedgerEntry.outcome) == LedgerOutcome.OPEN
    )
    total = (
        await session.exec(
            select(func.count())
            .select_from(Unit)
            .join(LedgerEntry, ledger, isouter=True)
            .where(*conditions)
        )
    ).one()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = (
        await session.exec(
            _line_columns()
            .join(Street, col(Street.id) == Unit.street_id)
            .join(LedgerEntry, ledger, isouter=True)
            .where(*conditions)
            .order_by(col(Unit.dues_paid_uncollected).desc(), headcount.desc(), col(Unit.id))
            .offset(page * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    ).all()
    return UnitPage(lines=_lines(rows), total=total, page=page, pages=pages)


@dataclass(frozen=True)
class StageStep:
    to_stage: LedgerStage
    outcome: LedgerOutcome
    at: datetime
    by_name: str | None
    note: str | None


@dataclass(frozen=True)
class VisitLine:
    visited_on: date
    purpose: str | None
    summary: str | None


@dataclass(frozen=True)
class UnitCard:
    unit_id: int
    name: str
    credit_code: str
    street_id: int
    street_name: str
    zone_name: str | None
    tax_headcount: int
    social_security_headcount: int | None
    member_count: int
    ownership: Ownership
    status: UnitStatus
    band: str | None  # None: below the ≥100 line
    tier: str
    member_system_collected: bool
    legal_person_certified: bool
    unionised_on: date | None
    dues_paid_uncollected: bool
    on_detail_table: bool
    missing_since: date | None = None  # the tax list left it out: moved out? closed?
    stage: LedgerStage | None = None
    outcome: LedgerOutcome | None = None
    opened_on: date | None = None
    history: list[StageStep] = field(default_factory=list)
    visits: list[VisitLine] = field(default_factory=list)

    @property
    def unionised(self) -> bool:
        return is_unionised(
            member_system_collected=self.member_system_collected,
            legal_person_certified=self.legal_person_certified,
        )


async def unit_card(*, session: AsyncSession, plan: Plan, unit_id: int) -> UnitCard | None:
    row = (
        await session.exec(
            select(Unit, Street.name, Zone.name)
            .join(Street, col(Street.id) == Unit.street_id)
            .join(Zone, col(Zone.id) == Unit.zone_id, isouter=True)
            .where(Unit.id == unit_id)
        )
    ).first()
    if row is None:
        return None
    unit, street_name, zone_name = row
    band = size_band(unit.tax_headcount, plan.size_bands)
    entry = (await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id))).first()
    history: list[StageStep] = []
    if entry is not None:
        steps = (
            await session.exec(
                select(LedgerStageChange, Officer.display_name)
                .join(
                    Officer,
                    col(Officer.telegram_user_id) == LedgerStageChange.by_user_id,
                    isouter=True,
                )
                .where(LedgerStageChange.entry_id == entry.id)
                .order_by(col(LedgerStageChange.at).desc(), col(LedgerStageChange.id).desc())
                .limit(5)
            )
        ).all()
        history = [
            StageStep(LedgerStage(s.to_stage), LedgerOutcome(s.outcome), s.at, name or None, s.note)
            for s, name in steps
        ]
    visits = (
        await session.exec(
            select(col(Visit.visited_on), col(Visit.purpose), col(Visit.summary))
            .where(Visit.unit_id == unit_id)
            .order_by(col(Visit.visited_on).desc(), col(Visit.id).desc())
            .limit(3)
        )
    ).all()
    assert unit.id is not None
    return UnitCard(
        unit_id=unit.id,
        name=unit.name,
        credit_code=unit.credit_code,
        street_id=unit.street_id,
        street_name=street_name,
        zone_name=zone_name,
        tax_headcount=unit.tax_headcount,
        social_security_headcount=unit.social_security_headcount,
        member_count=unit.member_count,
        ownership=Ownership(unit.ownership),
        status=UnitStatus(unit.status),
        band=band.key if band else None,
        tier=responsibility_tier(unit.tax_headcount, plan.responsibility_tiers).key,
        member_system_collected=unit.member_system_collected,
        legal_person_certified=unit.legal_person_certified,
        unionised_on=unit.unionised_on,
        dues_paid_uncollected=unit.dues_paid_uncollected,
        on_detail_table=unit.on_detail_table,
        missing_since=unit.missing_since,
        stage=LedgerStage(entry.stage) if entry else None,
        outcome=LedgerOutcome(entry.outcome) if entry else None,
        opened_on=entry.opened_on if entry else None,
        history=history,
        visits=[VisitLine(*v) for v in visits],
    )


async def find_units(
    *, session: AsyncSession, query: str, street_id: int | None, limit: int = PAGE_SIZE
) -> list[UnitLine]:
    """Units whose name contains `query`, or whose credit code starts with it; within one
    street when `street_id` is given (an officer's own)."""
    query = query.strip().upper()
    if not query:
        return []
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions = [
        sa.or_(
            col(Unit.name).like(f"%{escaped}%", escape="\\"),
            col(Unit.credit_code).like(f"{escaped}%", escape="\\"),
        )
    ]
    if street_id is not None:
        conditions.append(col(Unit.street_id) == street_id)
    rows = (
        await session.exec(
            _line_columns()
            .join(Street, col(Street.id) == Unit.street_id)
            .join(LedgerEntry, col(LedgerEntry.unit_id) == Unit.id, isouter=True)
            .where(*conditions)
            .order_by(col(Unit.tax_headcount).desc(), col(Unit.id))
            .limit(limit)
        )
    ).all()
    return _lines(rows)


def can_move_ledger(*, role: Role | None, own_street_id: int | None, street_id: int) -> bool:
    """Ledger moves are the street officers' work (and the district's); community workers
    log meetings and members, not the ledger."""
    if role is Role.DISTRICT_ADMIN:
        return True
    return role is Role.STREET_OFFICER and street_id == own_street_id


class NewUnitProblem(StrEnum):
    BAD_CODE = "bad_code"  # not a valid 统一社会信用代码 (GB 32100 check character)
    DUPLICATE = "duplicate"  # a unit with this code is already known
    BAD_NAME = "bad_name"


async def add_unit(
    *,
    session: AsyncSession,
    plan: Plan,
    name: str,
    credit_code: str,
    street_id: int,
    headcount: int,
    by_user_id: int,
    now: datetime,
    today: date,
) -> Unit | NewUnitProblem:
    """A unit found in the field that no list had: into the target base, and onto the ledger
    (摸底走访) when it is a ≥100 unit, so it counts from now on."""
    name, credit_code = name.strip(), credit_code.strip().upper()
    if not 2 <= len(name) <= MAX_UNIT_NAME:
        return NewUnitProblem.BAD_NAME
    if not is_valid_credit_code(credit_code):
        return NewUnitProblem.BAD_CODE
    if (await session.exec(select(Unit.id).where(Unit.credit_code == credit_code))).first():
        return NewUnitProblem.DUPLICATE
    unit = Unit(name=name, credit_code=credit_code, street_id=street_id, tax_headcount=headcount)
    session.add(unit)
    await session.flush()
    assert unit.id is not None
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="unit.create", entity="unit",
        entity_id=unit.id, after={"name": name, "credit_code": credit_code,
                                  "street_id": street_id, "tax_headcount": headcount},
    )  # fmt: skip
    if headcount >= plan.targets.unionise_100_plus.min_headcount:
        entry = LedgerEntry(unit_id=unit.id, street_id=street_id, opened_on=today)
        session.add(entry)
        await session.flush()
        assert entry.id is not None
        session.add(
            LedgerStageChange(entry_id=entry.id, to_stage=LedgerStage.SURVEYED, at=now,
                              by_user_id=by_user_id)
        )  # fmt: skip
    return unit
