"""How much is left: the figures behind /status, for the district and for one street.

A handful of aggregate queries (grouped by street where a ranking needs every street), then
pure arithmetic from models.rules and models.pace. Figures are always live: nothing here
caches, so a write-off shows in the next status anywhere.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.enums import LedgerOutcome, LedgerStage, MeetingKind, ReportKind, UnitStatus
from models.pace import RECENT_WEEKS, Pace, expected_by, pace
from models.plan import Plan
from models.progress import UnitCounts, remaining_for
from models.rules import (
    Remaining,
    is_unionised,
    meetings_remaining,
    rate_percent,
    responsibility_tier,
    size_band,
    units_needed_for_rate,
)
from models.tables import (
    AuditEntry,
    LedgerEntry,
    Meeting,
    ReportSubmission,
    Street,
    StreetTarget,
    Unit,
    Zone,
)
from models.visits import streets_guided


@dataclass(frozen=True)
class Deadline:
    target: str  # unionise_100_plus | worker_meetings | guidance_visits
    on: date
    days: int  # 0 on the day itself, negative once past


@dataclass(frozen=True)
class StreetRow:
    """One street's line in the district ranking (totals only: shared district-wide)."""

    street_id: int
    name: str
    position: int
    share: int  # its allocated part of the district's new ≥100 unions
    new_units: int  # ≥100 units unionised since the baseline
    units_100_plus: int
    unionised_100_plus: int
    recent_new_units: int  # of new_units, in the last four weeks
    meetings: int  # worker communication meetings held this plan year
    recent_meetings: int
    formation_behind: bool
    meetings_behind: bool

    @property
    def remaining(self) -> int:
        return max(0, self.share - self.new_units)

    @property
    def progress(self) -> Decimal:
        """Share of its count target done; a street with no share has nothing to do."""
        if not self.share:
            return Decimal("100.00")
        return rate_percent(min(self.new_units, self.share), self.share)

    @property
    def behind(self) -> bool:
        return self.formation_behind or self.meetings_behind


@dataclass(frozen=True)
class ZoneFigures:
    zone_id: int
    name: str
    units: int
    unionised: int
    units_100_plus: int
    unionised_100_plus: int

    @property
    def remaining_100_plus(self) -> int:
        return self.units_100_plus - self.unionised_100_plus


@dataclass(frozen=True)
class MonthReport:
    period: str  # "2018-03"
    due_before: date  # 每月20日前: due before this day
    submitted_on: date | None


@dataclass(frozen=True)
class DistrictStatus:
    today: date
    counts: UnitCounts
    remaining: Remaining
    not_unionised_100_plus: int
    detail_by_band: dict[str, int]  # un-unionised ≥100 units on the detail table, per band
    remaining_by_band: dict[str, int]  # every un-unionised ≥100 unit, per band
    remaining_by_tier: dict[str, int]
    dues_uncollected: int  # 税务代收但会员系统未采集, still not unionised
    dues_uncollected_100_plus: int
    zones: list[ZoneFigures]
    guidance_streets: int  # streets with a guidance visit this plan year
    guidance_needed: int  # streets the 50% target asks for
    meetings_held: int
    streets_meeting_target: int
    deadlines: list[Deadline]
    formation_pace: Pace
    meetings_pace: Pace
    ranking: list[StreetRow]

    @property
    def streets(self) -> int:
        return len(self.ranking)

    @property
    def behind_streets(self) -> int:
        return sum(row.behind for row in self.ranking)


@dataclass(frozen=True)
class StreetStatus:
    today: date
    row: StreetRow
    rank: int  # 1-based place in the district ranking
    streets: int
    rate_rule: int  # what the 53% rate alone would need in this street
    ledger_open: dict[LedgerStage, int]
    ledger_closed: dict[LedgerOutcome, int]
    meetings_target: int
    deadlines: list[Deadline]
    report: MonthReport
    formation_pace: Pace
    meetings_pace: Pace

    @property
    def meetings_remaining(self) -> int:
        return meetings_remaining(held=self.row.meetings, per_street=self.meetings_target)


def _unionised() -> sa.ColumnElement[bool]:
    return sa.and_(col(Unit.member_system_collected), col(Unit.legal_person_certified))


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return func.coalesce(func.sum(sa.case((condition, 1), else_=0)), 0)


def deadlines(plan: Plan, today: date) -> list[Deadline]:
    targets = plan.targets
    return [
        Deadline(name, target.deadline, (target.deadline - today).days)
        for name, target in (
            ("unionise_100_plus", targets.unionise_100_plus),
            ("worker_meetings", targets.worker_meetings),
        )
    ]


def _recent_start(today: date) -> date:
    return today - timedelta(days=7 * RECENT_WEEKS - 1)


Tally = Counter[str]


async def _unit_tallies(
    *, session: AsyncSession, plan: Plan, today: date
) -> dict[tuple[int, int | None], Tally]:
    """Every count the status needs, per (street, zone): the district, street and zone
    figures are sums of these. Totals over all units come from one aggregate pass; the few
    hundred ≥100 units are read one by one (through the headcount index) and sorted into
    bands and tiers by the plan's own rules, which is far cheaper in SQLite than a CASE
    expression per band evaluated over every unit."""
    target = plan.targets.unionise_100_plus
    unionised = _unionised()
    totals = (
        await session.exec(
            sa.select(  # type: ignore[call-overload]
                Unit.street_id,
                Unit.zone_id,
                func.count(),
                _count(unionised),
                func.coalesce(func.sum(Unit.tax_headcount), 0),
                func.coalesce(func.sum(Unit.member_count), 0),
                _count(sa.and_(col(Unit.dues_paid_uncollected), sa.not_(unionised))),
            )
            .where(col(Unit.status) == UnitStatus.ACTIVE)
            .group_by(col(Unit.street_id), col(Unit.zone_id))
        )
    ).all()
    tallies: dict[tuple[int, int | None], Tally] = {}
    for street_id, zone_id, *values in totals:
        names = ("units", "unionised", "workers", "members", "dues")
        tallies[(street_id, zone_id)] = Counter(dict(zip(names, map(int, values), strict=True)))
    big_units = (
        await session.exec(
            sa.select(  # type: ignore[call-overload]
                Unit.street_id,
                Unit.zone_id,
                Unit.tax_headcount,
                Unit.member_system_collected,
                Unit.legal_person_certified,
                Unit.unionised_on,
                Unit.on_detail_table,
                Unit.dues_paid_uncollected,
            ).where(
                col(Unit.status) == UnitStatus.ACTIVE,
                col(Unit.tax_headcount) >= target.min_headcount,
            )
        )
    ).all()
    recent_start = _recent_start(today)
    for street_id, zone_id, headcount, collected, certified, on, detail, dues in big_units:
        tally = tallies.setdefault((street_id, zone_id), Counter())
        tally["big"] += 1
        if is_unionised(member_system_collected=collected, legal_person_certified=certified):
            tally["big_unionised"] += 1
            if on is not None and on > plan.baseline.as_of:
                tally["new"] += 1
                tally["recent"] += on >= recent_start
            continue
        tally["open_big"] += 1
        tally["dues_big"] += bool(dues)
        band = size_band(headcount, plan.size_bands)
        if band is not None:
            tally[f"band:{band.key}"] += 1
            tally[f"detail:{band.key}"] += bool(detail)
        tally[f"tier:{responsibility_tier(headcount, plan.responsibility_tiers).key}"] += 1
    return tallies


def _sum_by(tallies: dict[tuple[int, int | None], Tally], part: int) -> dict[int | None, Tally]:
    sums: dict[int | None, Tally] = {}
    for key, tally in tallies.items():
        sums.setdefault(key[part], Counter()).update(tally)
    return sums


def _unit_counts(tally: Tally) -> UnitCounts:
    return UnitCounts(
        units=tally["units"],
        unionised=tally["unionised"],
        workers=tally["workers"],
        members=tally["members"],
        units_100_plus=tally["big"],
        unionised_100_plus=tally["big_unionised"],
        newly_unionised_100_plus=tally["new"],
    )


async def _ranking(
    *, session: AsyncSession, plan: Plan, today: date, by_street: dict[int | None, Tally]
) -> list[StreetRow]:
    """Every street's totals, best progress first: the district ranking."""
    target = plan.targets.unionise_100_plus
    meetings_target = plan.targets.worker_meetings
    meetings = await _meetings_by_street(session=session, plan=plan, today=today)
    shares = dict(
        (
            await session.exec(
                select(StreetTarget.street_id, StreetTarget.new_units).where(
                    StreetTarget.plan_key == plan.plan.key
                )
            )
        ).all()
    )
    streets = (await session.exec(select(Street.id, Street.name, Street.position))).all()
    rows = []
    for street_id, name, position in streets:
        assert street_id is not None
        tally = by_street.get(street_id, Counter())
        held, recent_held = meetings.get(street_id, (0, 0))
        share = shares.get(street_id, 0)
        formation_due = expected_by(
            target=share, start=plan.baseline.as_of, deadline=target.deadline, today=today
        )
        meetings_due = expected_by(
            target=meetings_target.per_street,
            start=plan.baseline.as_of,
            deadline=meetings_target.deadline,
            today=today,
        )
        rows.append(
            StreetRow(
                street_id=street_id,
                name=name,
                position=position,
                share=share,
                new_units=tally["new"],
                units_100_plus=tally["big"],
                unionised_100_plus=tally["big_unionised"],
                recent_new_units=tally["recent"],
                meetings=held,
                recent_meetings=recent_held,
                formation_behind=tally["new"] < formation_due,
                meetings_behind=held < meetings_due,
            )
        )
    # Streets with a share of the count target first, best progress first; a street with no
    # share has nothing to rank on, so it goes last rather than "100% done" at the top.
    rows.sort(key=lambda r: (not r.share, -r.progress, r.remaining, -r.meetings, r.position))
    return rows


async def street_rows(*, session: AsyncSession, plan: Plan, today: date) -> list[StreetRow]:
    tallies = await _unit_tallies(session=session, plan=plan, today=today)
    return await _ranking(session=session, plan=plan, today=today, by_street=_sum_by(tallies, 0))


async def _meetings_by_street(
    *, session: AsyncSession, plan: Plan, today: date
) -> dict[int, tuple[int, int]]:
    """Worker meetings held per street in the plan year up to today, and in the last 4 weeks."""
    kinds = [MeetingKind(k) for k in plan.targets.worker_meetings.meeting_kinds]
    held = col(Meeting.held_on)
    rows = (
        await session.exec(
            sa.select(  # type: ignore[call-overload]
                Meeting.street_id, func.count(), _count(held >= _recent_start(today))
            )
            .where(
                col(Meeting.kind).in_(kinds),
                held >= date(plan.plan.year, 1, 1),
                held <= today,
            )
            .group_by(col(Meeting.street_id))
        )
    ).all()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


async def district_status(*, session: AsyncSession, plan: Plan, today: date) -> DistrictStatus:
    target = plan.targets.unionise_100_plus
    tallies = await _unit_tallies(session=session, plan=plan, today=today)
    district: Tally = sum(tallies.values(), Counter())
    counts = _unit_counts(district)
    ranking = await _ranking(session=session, plan=plan, today=today, by_street=_sum_by(tallies, 0))
    guidance = await streets_guided(session=session, plan=plan, today=today)
    per_street = plan.targets.worker_meetings.per_street
    meetings_left = sum(meetings_remaining(held=r.meetings, per_street=per_street) for r in ranking)
    remaining = remaining_for(counts, plan, min_new_units=target.min_new_units)
    return DistrictStatus(
        today=today,
        counts=counts,
        remaining=remaining,
        not_unionised_100_plus=district["open_big"],
        detail_by_band={b.key: district[f"detail:{b.key}"] for b in plan.size_bands},
        remaining_by_band={b.key: district[f"band:{b.key}"] for b in plan.size_bands},
        remaining_by_tier={t.key: district[f"tier:{t.key}"] for t in plan.responsibility_tiers},
        dues_uncollected=district["dues"],
        dues_uncollected_100_plus=district["dues_big"],
        zones=await _zones(session=session, by_zone=_sum_by(tallies, 1)),
        guidance_streets=int(guidance),
        guidance_needed=math.ceil(len(ranking) * plan.targets.guidance_visits.min_street_share),
        meetings_held=sum(r.meetings for r in ranking),
        streets_meeting_target=sum(r.meetings >= per_street for r in ranking),
        deadlines=deadlines(plan, today),
        formation_pace=pace(
            remaining=remaining.overall,
            done_recently=district["recent"],
            today=today,
            deadline=target.deadline,
        ),
        meetings_pace=pace(
            remaining=meetings_left,
            done_recently=sum(r.recent_meetings for r in ranking),
            today=today,
            deadline=plan.targets.worker_meetings.deadline,
        ),
        ranking=ranking,
    )


async def _zones(*, session: AsyncSession, by_zone: dict[int | None, Tally]) -> list[ZoneFigures]:
    zones = (await session.exec(select(Zone.id, Zone.name).order_by(col(Zone.id)))).all()
    figures = []
    for zone_id, name in zones:
        assert zone_id is not None
        tally = by_zone.get(zone_id, Counter())
        figures.append(
            ZoneFigures(
                zone_id=zone_id,
                name=name,
                units=tally["units"],
                unionised=tally["unionised"],
                units_100_plus=tally["big"],
                unionised_100_plus=tally["big_unionised"],
            )
        )
    return figures


async def street_status(
    *, session: AsyncSession, plan: Plan, street_id: int, today: date
) -> StreetStatus | None:
    ranking = await street_rows(session=session, plan=plan, today=today)
    place = next((i for i, r in enumerate(ranking) if r.street_id == street_id), None)
    if place is None:
        return None
    row = ranking[place]
    target = plan.targets.unionise_100_plus
    ledger = (
        await session.exec(
            sa.select(  # type: ignore[call-overload]
                LedgerEntry.stage, LedgerEntry.outcome, func.count()
            )
            .where(LedgerEntry.street_id == street_id)
            .group_by(col(LedgerEntry.stage), col(LedgerEntry.outcome))
        )
    ).all()
    ledger_open: dict[LedgerStage, int] = dict.fromkeys(LedgerStage, 0)
    ledger_closed: dict[LedgerOutcome, int] = {
        o: 0 for o in LedgerOutcome if o is not LedgerOutcome.OPEN
    }
    for stage, outcome, n in ledger:
        if outcome == LedgerOutcome.OPEN:
            ledger_open[LedgerStage(stage)] += int(n)
        else:
            ledger_closed[LedgerOutcome(outcome)] += int(n)
    per_street = plan.targets.worker_meetings.per_street
    return StreetStatus(
        today=today,
        row=row,
        rank=place + 1,
        streets=len(ranking),
        rate_rule=units_needed_for_rate(
            total=row.units_100_plus, unionised=row.unionised_100_plus, min_rate=target.min_rate
        ),
        ledger_open=ledger_open,
        ledger_closed=ledger_closed,
        meetings_target=per_street,
        deadlines=deadlines(plan, today),
        report=await month_report(session=session, plan=plan, street_id=street_id, today=today),
        formation_pace=pace(
            remaining=row.remaining,
            done_recently=row.recent_new_units,
            today=today,
            deadline=target.deadline,
        ),
        meetings_pace=pace(
            remaining=meetings_remaining(held=row.meetings, per_street=per_street),
            done_recently=row.recent_meetings,
            today=today,
            deadline=plan.targets.worker_meetings.deadline,
        ),
    )


async def month_report(
    *, session: AsyncSession, plan: Plan, street_id: int, today: date
) -> MonthReport:
    period = f"{today:%Y-%m}"
    submitted = (
        await session.exec(
            select(ReportSubmission.submitted_at).where(
                ReportSubmission.street_id == street_id,
                ReportSubmission.kind == ReportKind.MONTHLY,
                ReportSubmission.period == period,
            )
        )
    ).first()
    return MonthReport(
        period=period,
        due_before=today.replace(day=plan.reporting.monthly.due_before_day),
        submitted_on=submitted.astimezone(plan.zone).date() if submitted else None,
    )


class StatusCache:
    """The figures, kept until business data changes or the business day turns.

    Every change to business data writes an audit row (models.audit), so the newest audit id
    is the version of the data: one indexed lookup tells whether the cached figures are
    still true. A write-off therefore shows in the very next status, in every chat.
    """

    def __init__(self) -> None:
        self._stamp: tuple[date, int] | None = None
        self._district: DistrictStatus | None = None
        self._streets: dict[int, StreetStatus | None] = {}

    async def _check(self, session: AsyncSession, today: date) -> None:
        version = (await session.exec(select(func.max(AuditEntry.id)))).one() or 0
        if self._stamp != (today, version):
            self._stamp, self._district, self._streets = (today, version), None, {}

    async def district(self, *, session: AsyncSession, plan: Plan, today: date) -> DistrictStatus:
        await self._check(session, today)
        if self._district is None:
            self._district = await district_status(session=session, plan=plan, today=today)
        return self._district

    async def street(
        self, *, session: AsyncSession, plan: Plan, street_id: int, today: date
    ) -> StreetStatus | None:
        await self._check(session, today)
        if street_id not in self._streets:
            self._streets[street_id] = await street_status(
                session=session, plan=plan, street_id=street_id, today=today
            )
        return self._streets[street_id]
