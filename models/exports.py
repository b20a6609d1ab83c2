"""What the district can take away as spreadsheets (导出), and who may take what.

Each kind is a builder: a few queries in, `Sheet`s out (headings and labels as text keys,
typed cells), written by bot/workbook.py in the reader's language. A builder reads what it
needs as plain rows in one query and hands the writer a generator that turns one stored row
into one sheet row as it is written: a large export (the units, a district's members) is
held once, as the database returned it, never twice.

Filters: a street (None: the whole district) and a period. What a period means depends on
the kind (`period_use`): the ledger, the ranking and the units are as they stand today;
meetings are filtered by the day held, members by the day they joined (`joined_on`, the day
the monthly report counts them by, not the day they were typed in); reports are one month's
or one quarter's.

Who: district admins export everything, for any street or the district; a street officer
the ledger, meetings and reports of their own street only; nobody else anything. Members
(full mobile numbers) and the ranking stay with the admins, as does any kind added later
unless it is named in OFFICER_KINDS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.comparison import comparison_sheets
from models.enums import LedgerOutcome, LedgerStage, MeetingKind, ReportKind, Role, UnitStatus
from models.members import MemberSource
from models.plan import Plan
from models.reports import (
    due_before,
    kind_of_period,
    month_period,
    period_overview,
    period_range,
    quarter_period,
    report_fields,
)
from models.status import street_rows
from models.tables import (
    LedgerEntry,
    LedgerStageChange,
    Meeting,
    Member,
    Street,
    Unit,
    Zone,
)
from models.tabular import CellKind, Label, Sheet, SheetColumn


class ExportKind(StrEnum):
    LEDGER = "ledger"  # 台账: every entry, its stage and the day it reached each
    MEETINGS = "meetings"  # 会议时间表 (职工沟通会 and the other kinds)
    REPORTS = "reports"  # one period's monthly or quarterly reports, every street
    RANKING = "ranking"  # the street ranking, as /status shows it
    MEMBERS = "members"  # members registered, re-importable as a member list
    UNITS = "units"  # the active units, re-importable as a unit list
    COMPARISON = "comparison"  # 三方比对: the blind spots, a sheet each (models/comparison.py)


class PeriodUse(StrEnum):
    NONE = "none"  # as things stand today
    DATES = "dates"  # rows dated within a range of days
    REPORT = "report"  # one reporting period: a month ("2018-03") or a quarter ("2018-Q1")


PERIOD_USE: dict[ExportKind, PeriodUse] = {
    ExportKind.MEETINGS: PeriodUse.DATES,
    ExportKind.MEMBERS: PeriodUse.DATES,
    ExportKind.REPORTS: PeriodUse.REPORT,
}
# The comparison too: /compare shows an officer their own street's blind spots already.
OFFICER_KINDS = frozenset(
    {ExportKind.LEDGER, ExportKind.MEETINGS, ExportKind.REPORTS, ExportKind.COMPARISON}
)


def period_use(kind: ExportKind) -> PeriodUse:
    return PERIOD_USE.get(kind, PeriodUse.NONE)


def may_export(
    *, role: Role | None, own_street_id: int | None, kind: ExportKind, street_id: int | None
) -> bool:
    """Whether someone may export `kind` for `street_id` (None: the whole district)."""
    if role is Role.DISTRICT_ADMIN:
        return True
    return (
        role is Role.STREET_OFFICER
        and kind in OFFICER_KINDS
        and own_street_id is not None
        and street_id == own_street_id
    )


def kinds_for(*, role: Role | None, own_street_id: int | None) -> list[ExportKind]:
    """The kinds someone may export at all (for their own street, or any)."""
    street = None if role is Role.DISTRICT_ADMIN else own_street_id
    return [
        kind
        for kind in ExportKind
        if may_export(role=role, own_street_id=own_street_id, kind=kind, street_id=street)
    ]


# --- periods ------------------------------------------------------------------------------

_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """Days from `first` to `last`, both included, and how the period was named."""

    first: date
    last: date
    label: str  # "2018-03", "2018-Q1", "2018" or "2018-03-01..2018-05-31"

    @property
    def report(self) -> tuple[ReportKind, str] | None:
        """The reporting period it is, if it is a month or a quarter."""
        kind = kind_of_period(self.label)
        return None if kind is None else (kind, self.label)


def parse_period(text: str) -> Period | None:
    """A month (2018-03), a quarter (2018-Q1), a year (2018) or a range of days
    (2018-03-01..2018-05-31); None for anything else, or a range that ends before it starts."""
    text = text.strip()
    kind = kind_of_period(text)
    if kind is not None:
        first, last = period_range(kind, text)
        return Period(first, last, text)
    if found := _YEAR.match(text):
        year = int(found[1])
        return Period(date(year, 1, 1), date(year, 12, 31), text) if year >= 1900 else None
    if found := _RANGE.match(text):
        try:
            first, last = date.fromisoformat(found[1]), date.fromisoformat(found[2])
        except ValueError:
            return None
        return Period(first, last, text) if first <= last else None
    return None


def month_of(day: date, back: int = 0) -> Period:
    """The month of `day`, or the one `back` months before it."""
    months = day.year * 12 + day.month - 1 - back
    period = parse_period(month_period(date(months // 12, months % 12 + 1, 1)))
    assert period is not None
    return period


def quarter_of(day: date, back: int = 0) -> Period:
    """The quarter of `day`, or the one `back` quarters before it."""
    first = month_of(day, back * 3 + (day.month - 1) % 3).first
    period = parse_period(quarter_period(first))
    assert period is not None
    return period


def year_of(day: date) -> Period:
    return Period(date(day.year, 1, 1), date(day.year, 12, 31), str(day.year))


def period_fits(kind: ExportKind, period: Period | None) -> bool:
    """Whether `period` filters `kind`: none for a snapshot, a month or quarter for reports
    (None there means the current month), any period or none for dated rows."""
    use = period_use(kind)
    if use is PeriodUse.NONE:
        return period is None
    if use is PeriodUse.REPORT:
        return period is None or period.report is not None
    return True


# --- building -----------------------------------------------------------------------------


class Builder(Protocol):
    """One kind's sheets. Keyword arguments, so a builder may ignore what it does not need."""

    async def __call__(
        self,
        *,
        session: AsyncSession,
        plan: Plan,
        today: date,
        street_id: int | None,
        period: Period | None,
    ) -> list[Sheet]: ...


def _select(*columns: Any) -> sa.Select[Any]:
    """A query of plain columns, as many as an export needs (sqlmodel's select types four)."""
    return sa.select(*columns)


async def _fetch(session: AsyncSession, query: sa.Select[Any]) -> Sequence[Any]:
    return (await session.exec(query)).all()  # type: ignore[call-overload]


def _column(key: str, kind: CellKind = CellKind.TEXT, width: int = 12) -> SheetColumn:
    return SheetColumn(f"export.col.{key}", kind, width)


def _in_street(column: object, street_id: int | None) -> list[sa.ColumnElement[bool]]:
    return [] if street_id is None else [col(column) == street_id]


def _dated(column: object, period: Period | None) -> list[sa.ColumnElement[bool]]:
    if period is None:
        return []
    on = col(column)
    return [on >= period.first, on <= period.last]


LEDGER_COLUMNS = (
    _column("street", width=12),
    _column("unit_name", width=36),
    _column("credit_code", width=22),
    _column("tax_headcount", CellKind.INT, 10),
    _column("stage", width=14),
    _column("outcome", width=10),
    _column("opened_on", CellKind.DATE, 12),
    *(_column(f"stage_on.{stage.value}", CellKind.DATE, 12) for stage in LedgerStage),
    _column("closed_on", CellKind.DATE, 12),
    _column("outcome_reason", width=30),
)


async def ledger_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """Every ledger entry, with the day (in the plan's zone) it first reached each stage."""
    reached: dict[int, dict[LedgerStage, date]] = {}
    moves = await session.exec(
        select(LedgerStageChange.entry_id, LedgerStageChange.to_stage,
               func.min(LedgerStageChange.at))
        .join(LedgerEntry, col(LedgerEntry.id) == LedgerStageChange.entry_id)
        .where(LedgerStageChange.outcome == LedgerOutcome.OPEN,
               *_in_street(LedgerEntry.street_id, street_id))
        .group_by(col(LedgerStageChange.entry_id), col(LedgerStageChange.to_stage))
    )  # fmt: skip
    for entry_id, stage, at in moves.all():
        reached.setdefault(entry_id, {})[LedgerStage(stage)] = at.astimezone(plan.zone).date()
    entries = await _fetch(
        session,
        _select(LedgerEntry.id, Street.name, Unit.name, Unit.credit_code, Unit.tax_headcount,
                 LedgerEntry.stage, LedgerEntry.outcome, LedgerEntry.opened_on,
                 LedgerEntry.closed_on, LedgerEntry.outcome_reason)
        .join(Unit, col(Unit.id) == LedgerEntry.unit_id)
        .join(Street, col(Street.id) == LedgerEntry.street_id)
        .where(*_in_street(LedgerEntry.street_id, street_id))
        .order_by(col(Street.position), col(Unit.tax_headcount).desc(), col(LedgerEntry.id))
    )  # fmt: skip

    def rows() -> Iterable[tuple[object, ...]]:
        for entry_id, street, unit, code, headcount, stage, outcome, opened, closed, why in entries:
            days = reached.get(entry_id or 0, {})
            yield (street, unit, code, headcount, Label(f"stage.{stage}"),
                   Label(f"outcome.{outcome}"), opened, *(days.get(s) for s in LedgerStage),
                   closed, why)  # fmt: skip

    return [Sheet("export.sheet.ledger", LEDGER_COLUMNS, rows(), len(entries))]


MEETING_COLUMNS = (
    _column("street", width=12),
    _column("held_on", CellKind.DATE, 12),
    _column("meeting_kind", width=12),
    _column("place", width=30),
    _column("venue_type", width=10),
    _column("attendees", CellKind.INT, 10),
    _column("new_members", CellKind.INT, 10),
    _column("notes", width=40),
    _column("logged_at", CellKind.DATETIME, 17),
)


async def meeting_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """Meetings held in the period (every kind), street by street in date order: the
    schedule (时间表) the plan asks each street to keep."""
    meetings = await _fetch(
        session,
        _select(Street.name, Meeting.held_on, Meeting.kind, Meeting.place, Meeting.venue_type,
                 Meeting.attendees, Meeting.new_members, Meeting.notes, Meeting.created_at)
        .join(Street, col(Street.id) == Meeting.street_id)
        .where(*_in_street(Meeting.street_id, street_id), *_dated(Meeting.held_on, period))
        .order_by(col(Street.position), col(Meeting.held_on), col(Meeting.id))
    )  # fmt: skip

    def rows() -> Iterable[tuple[object, ...]]:
        for street, held, kind, place, venue, attendees, new, notes, logged in meetings:
            yield (street, held, Label(f"meeting_kind.{kind}"), place,
                   Label(f"venue.{venue}") if venue else None, attendees, new, notes,
                   logged)  # fmt: skip

    return [Sheet("export.sheet.meetings", MEETING_COLUMNS, rows(), len(meetings))]


def report_columns(kind: ReportKind) -> tuple[SheetColumn, ...]:
    """A period's reports: who reported when, the figures stored with each report, and the
    answers (the quarter's three questions only in a quarterly export)."""
    meetings = [
        _column(f"report.{m.value}_{what}", CellKind.INT, 10)
        for m in MeetingKind
        for what in ("count", "attendees", "new_members")
    ]
    answers = [_column(f"report.{f.value}", width=40) for f in report_fields(kind)]
    return (
        _column("street", width=12),
        _column("report.period", width=10),
        _column("report.state", width=10),
        _column("report.submitted_at", CellKind.DATETIME, 17),
        _column("report.corrected_at", CellKind.DATETIME, 17),
        _column("report.closed", CellKind.BOOL, 8),
        *meetings,
        _column("report.unit_visits", CellKind.INT, 10),
        _column("report.units_visited", CellKind.INT, 10),
        *(_column(f"report.moves.{s.value}", CellKind.INT, 10) for s in LedgerStage),
        _column("report.written_off", CellKind.INT, 8),
        _column("report.obstructed", CellKind.INT, 8),
        _column("report.departed", CellKind.INT, 8),
        _column("report.members_registered", CellKind.INT, 10),
        *answers,
    )


async def report_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """One row per street for the period, a street that has not reported included (shown
    as not reported, its figures empty). No period: this month's."""
    kind, name = (period or month_of(today)).report or (ReportKind.MONTHLY, month_period(today))
    due = due_before(plan, kind, name)
    lines = [
        line
        for line in await period_overview(session=session, kind=kind, period=name)
        if street_id is None or line.street_id == street_id
    ]
    fields = report_fields(kind)
    columns = report_columns(kind)
    empty = len(columns) - 3  # a missing report: the street, the period, "not reported"

    def rows() -> Iterable[tuple[object, ...]]:
        for line in lines:
            report = line.report
            if report is None:
                yield (line.street_name, name, Label("export.report_state.missing"),
                       *([None] * empty))  # fmt: skip
                continue
            f = report.figures
            late = report.submitted_at.astimezone(plan.zone).date() >= due
            state = "late" if late else "on_time"
            yield (
                line.street_name, name, Label(f"export.report_state.{state}"),
                report.submitted_at, report.corrected_at, report.closed,
                *(n for m in f.meetings for n in (m.count, m.attendees, m.new_members)),
                f.unit_visits, f.units_visited, *(n for _, n in f.ledger_moves),
                f.written_off, f.obstructed, f.departed, f.members_registered,
                *(report.answers.get(field) for field in fields),
            )  # fmt: skip

    return [Sheet("export.sheet.reports", columns, rows(), len(lines))]


RANKING_COLUMNS = (
    _column("rank", CellKind.INT, 6),
    _column("street", width=12),
    _column("share", CellKind.INT, 10),
    _column("new_units", CellKind.INT, 10),
    _column("remaining", CellKind.INT, 10),
    _column("progress", CellKind.PERCENT, 10),
    _column("units_100_plus", CellKind.INT, 10),
    _column("unionised_100_plus", CellKind.INT, 10),
    _column("rate_100_plus", CellKind.PERCENT, 10),
    _column("worker_meetings", CellKind.INT, 10),
    _column("meetings_target", CellKind.INT, 10),
    _column("verdict", width=20),
)


def _verdict(formation_behind: bool, meetings_behind: bool) -> Label:
    if formation_behind and meetings_behind:
        return Label("export.verdict.behind_both")
    if formation_behind:
        return Label("export.verdict.behind_formation")
    if meetings_behind:
        return Label("export.verdict.behind_meetings")
    return Label("export.verdict.on_track")


async def ranking_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """The district ranking as /status computes it (models.status), as of today; a street
    filter keeps that street's line and its place."""
    ranking = await street_rows(session=session, plan=plan, today=today)
    per_street = plan.targets.worker_meetings.per_street
    lines = [
        (place, row)
        for place, row in enumerate(ranking, 1)
        if street_id is None or row.street_id == street_id
    ]

    def rows() -> Iterable[tuple[object, ...]]:
        for place, r in lines:
            rate = (Decimal(r.unionised_100_plus) / r.units_100_plus if r.units_100_plus
                    else None)  # fmt: skip
            yield (place, r.name, r.share, r.new_units, r.remaining, r.progress / 100,
                   r.units_100_plus, r.unionised_100_plus, rate, r.meetings, per_street,
                   _verdict(r.formation_behind, r.meetings_behind))  # fmt: skip

    return [Sheet("export.sheet.ranking", RANKING_COLUMNS, rows(), len(lines))]


# The headings the member-list import recognises (models/member_import.py HEADERS), in both
# languages: an exported list goes back in unchanged.
MEMBER_COLUMNS = (
    _column("member_name", width=10),
    _column("mobile", width=13),
    _column("member_unit", width=36),
    _column("street", width=12),
    _column("joined_on", CellKind.DATE, 12),
    _column("source", width=10),
)
_SOURCES = {s.value for s in MemberSource}


async def member_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """Members who joined in the period (by `joined_on`), with their full mobile numbers;
    not those erased on request (they still count everywhere else)."""
    members = await _fetch(
        session,
        _select(Member.name, Member.mobile, Unit.name, Street.name, Member.joined_on,
                 Member.source)
        .join(Street, col(Street.id) == Member.street_id)
        .join(Unit, col(Unit.id) == Member.unit_id, isouter=True)
        .where(*_in_street(Member.street_id, street_id), *_dated(Member.joined_on, period))
        .where(col(Member.erased_at).is_(None))
        .order_by(col(Street.position), col(Member.joined_on), col(Member.id))
    )  # fmt: skip

    def rows() -> Iterable[tuple[object, ...]]:
        for name, mobile, unit, street, joined, source in members:
            shown = Label(f"export.source.{source}") if source in _SOURCES else source
            yield name, mobile, unit, street, joined, shown

    return [Sheet("export.sheet.members", MEMBER_COLUMNS, rows(), len(members))]


# The headings the unit-list import recognises: an exported list goes back in unchanged.
UNIT_COLUMNS = (
    _column("unit_name", width=36),
    _column("credit_code", width=22),
    _column("street", width=12),
    _column("tax_headcount", CellKind.INT, 10),
    _column("social_security_headcount", CellKind.INT, 10),
    _column("member_count", CellKind.INT, 10),
    _column("ownership", width=10),
    _column("zone", width=14),
    _column("dues_paid_uncollected", CellKind.BOOL, 10),
)


async def unit_sheets(
    *, session: AsyncSession, plan: Plan, today: date, street_id: int | None,
    period: Period | None,
) -> list[Sheet]:  # fmt: skip
    """The active units (the target base), street by street, the largest first."""
    units = await _fetch(
        session,
        _select(Unit.name, Unit.credit_code, Street.name, Unit.tax_headcount,
                 Unit.social_security_headcount, Unit.member_count, Unit.ownership, Zone.name,
                 Unit.dues_paid_uncollected)
        .join(Street, col(Street.id) == Unit.street_id)
        .join(Zone, col(Zone.id) == Unit.zone_id, isouter=True)
        .where(col(Unit.status) == UnitStatus.ACTIVE, *_in_street(Unit.street_id, street_id))
        .order_by(col(Street.position), col(Unit.tax_headcount).desc(), col(Unit.id))
    )  # fmt: skip

    def rows() -> Iterable[tuple[object, ...]]:
        for name, code, street, tax, social, members, ownership, zone, dues in units:
            yield (name, code, street, tax, social, members, Label(f"export.ownership.{ownership}"),
                   zone, dues)  # fmt: skip

    return [Sheet("export.sheet.units", UNIT_COLUMNS, rows(), len(units))]


EXPORTERS: dict[ExportKind, Builder] = {
    ExportKind.LEDGER: ledger_sheets,
    ExportKind.MEETINGS: meeting_sheets,
    ExportKind.REPORTS: report_sheets,
    ExportKind.RANKING: ranking_sheets,
    ExportKind.MEMBERS: member_sheets,
    ExportKind.UNITS: unit_sheets,
    ExportKind.COMPARISON: comparison_sheets,
}


async def build_sheets(
    kind: ExportKind,
    *,
    session: AsyncSession,
    plan: Plan,
    today: date,
    street_id: int | None,
    period: Period | None,
) -> list[Sheet]:
    """The sheets of one export. A period that does not fit the kind is a caller's bug."""
    if not period_fits(kind, period):
        raise ValueError(f"{kind.value} cannot be filtered by the period {period}")
    return await EXPORTERS[kind](
        session=session, plan=plan, today=today, street_id=street_id, period=period
    )


def row_count(sheets: Iterable[Sheet]) -> int | None:
    """Rows in all, when every sheet knows its count."""
    totals = [sheet.total for sheet in sheets]
    return None if any(n is None for n in totals) else sum(n or 0 for n in totals)
