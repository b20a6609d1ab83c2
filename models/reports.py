"""Reports: every street's monthly report (每月20日前报送本月基层组织建设工作相关信息) and
the quarterly one (建会工作案例、舆情分析处置情况、工作经验), due with the report of the
quarter's last month.

A report has two halves. The figures are what the bot already knows from the street's logs
for the period (meetings, unit visits, ledger moves, new members): drafted here, never asked
for, and stored with the submission as they stood when it was sent. The answers are what only
the street can say: the key difficulties (重点难点问题, required), notes, and for the quarter
the formation cases, public-opinion (舆情) incidents and their handling, and work experience.

A submission may be corrected until the district closes the period; it keeps its first
`submitted_at` and records `corrected_at` in its body. Periods are "2018-03" and "2018-Q1".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import LedgerOutcome, LedgerStage, MeetingKind, ReportKind, VisitKind
from models.plan import Plan
from models.tables import (
    LedgerEntry,
    LedgerStageChange,
    Meeting,
    Member,
    ReportSubmission,
    Street,
    Visit,
)

MONTHLY_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTERLY_PERIOD = re.compile(r"^(\d{4})-Q([1-4])$")
MAX_DIFFICULTIES = 4000  # ReportSubmission.difficulties
MAX_ANSWER = 2000  # every other answer: a phone message, not a document


class ReportField(StrEnum):
    """What a report asks, in the order it asks it."""

    CASES = "cases"  # 建会工作案例 (quarterly)
    PUBLIC_OPINION = "public_opinion"  # 舆情 incidents, analysis and handling (quarterly)
    EXPERIENCE = "experience"  # 工作经验 (quarterly)
    DIFFICULTIES = "difficulties"  # 重点难点问题: the one answer every report must have
    NOTES = "notes"  # 补充说明


QUARTERLY_ONLY = (ReportField.CASES, ReportField.PUBLIC_OPINION, ReportField.EXPERIENCE)


def report_fields(kind: ReportKind) -> tuple[ReportField, ...]:
    if kind is ReportKind.QUARTERLY:
        return tuple(ReportField)
    return tuple(f for f in ReportField if f not in QUARTERLY_ONLY)


def skippable(field: ReportField) -> bool:
    return field is not ReportField.DIFFICULTIES


def max_length(field: ReportField) -> int:
    return MAX_DIFFICULTIES if field is ReportField.DIFFICULTIES else MAX_ANSWER


class AnswerProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"


def answer_problem(field: ReportField, text: str) -> AnswerProblem | None:
    """Why a typed answer cannot be taken; None when it can."""
    text = text.strip()
    if not text:
        return AnswerProblem.EMPTY
    return AnswerProblem.TOO_LONG if len(text) > max_length(field) else None


# --- periods ------------------------------------------------------------------------------


def month_period(d: date) -> str:
    return f"{d:%Y-%m}"


def quarter_period(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def period_of(kind: ReportKind, d: date) -> str:
    return quarter_period(d) if kind is ReportKind.QUARTERLY else month_period(d)


def valid_period(kind: ReportKind, period: str) -> bool:
    pattern = QUARTERLY_PERIOD if kind is ReportKind.QUARTERLY else MONTHLY_PERIOD
    return pattern.match(period) is not None


def kind_of_period(period: str) -> ReportKind | None:
    """A period names its kind: "2018-03" a month, "2018-Q1" a quarter; None for neither."""
    for kind in ReportKind:
        if valid_period(kind, period):
            return kind
    return None


def month_range(period: str) -> tuple[date, date]:
    """The first and last day of a month period ("2018-03")."""
    found = MONTHLY_PERIOD.match(period)
    if found is None:
        raise ValueError(f"not a month period: {period!r}")
    first = date(int(found[1]), int(found[2]), 1)
    return first, _next_month(first) - timedelta(days=1)


def quarter_range(period: str) -> tuple[date, date]:
    """The first and last day of a quarter period ("2018-Q1")."""
    found = QUARTERLY_PERIOD.match(period)
    if found is None:
        raise ValueError(f"not a quarter period: {period!r}")
    first = date(int(found[1]), (int(found[2]) - 1) * 3 + 1, 1)
    return first, _next_month(_next_month(_next_month(first))) - timedelta(days=1)


def period_range(kind: ReportKind, period: str) -> tuple[date, date]:
    return quarter_range(period) if kind is ReportKind.QUARTERLY else month_range(period)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def shift_period(kind: ReportKind, period: str, steps: int) -> str:
    """The period `steps` months (or quarters) after this one; negative goes back."""
    first, _ = period_range(kind, period)
    months = first.year * 12 + first.month - 1 + steps * (3 if kind is ReportKind.QUARTERLY else 1)
    return period_of(kind, date(months // 12, months % 12 + 1, 1))


def quarterly_due_this_month(plan: Plan, d: date) -> bool:
    """Whether the quarter's report is asked for with this month's (its due month)."""
    due = plan.reporting.quarterly.due_month_of_quarter or 3
    return (d.month - 1) % 3 + 1 == due


def due_before(plan: Plan, kind: ReportKind, period: str) -> date:
    """The day a period's report is due before (每月20日前: the 20th of its month; a quarter's
    in its due month)."""
    first, _ = period_range(kind, period)
    if kind is ReportKind.QUARTERLY:
        rule = plan.reporting.quarterly
        month = first.month + (rule.due_month_of_quarter or 3) - 1
        return date(first.year, month, rule.due_before_day)
    return first.replace(day=plan.reporting.monthly.due_before_day)


def utc_bounds(kind: ReportKind, period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A period as a half-open UTC interval: its days are the plan zone's days, and the
    ledger's timestamps are UTC (a move at 07:00 on the 1st in Beijing is 23:00 UTC before)."""
    first, last = period_range(kind, period)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# --- the drafted figures ------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingFigures:
    kind: MeetingKind
    count: int = 0
    attendees: int = 0
    new_members: int = 0


@dataclass(frozen=True)
class ReportFigures:
    """What the bot knows of a street's period from its logs; every kind and stage listed,
    zeros included, so a stored report always has the same shape."""

    meetings: tuple[MeetingFigures, ...]
    unit_visits: int  # visits to units (走访)
    units_visited: int  # distinct units among them
    ledger_moves: tuple[tuple[LedgerStage, int], ...]  # stage moves by the stage reached
    written_off: int  # 销账
    obstructed: int  # 阻挠
    departed: int  # 迁出/注销
    members_registered: int  # new members registered through the bot

    def as_json(self) -> dict[str, Any]:
        return {
            "meetings": {
                m.kind.value: {"count": m.count, "attendees": m.attendees,
                               "new_members": m.new_members}
                for m in self.meetings
            },
            "unit_visits": self.unit_visits,
            "units_visited": self.units_visited,
            "ledger_moves": {stage.value: n for stage, n in self.ledger_moves},
            "written_off": self.written_off,
            "obstructed": self.obstructed,
            "departed": self.departed,
            "members_registered": self.members_registered,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportFigures:
        """Tolerant of missing keys: a body written by an older version reads as zeros."""
        meetings = data.get("meetings") or {}
        moves = data.get("ledger_moves") or {}
        return cls(
            meetings=tuple(_meeting_figures(k, meetings.get(k.value) or {}) for k in MeetingKind),
            unit_visits=int(data.get("unit_visits", 0)),
            units_visited=int(data.get("units_visited", 0)),
            ledger_moves=tuple((stage, int(moves.get(stage.value, 0))) for stage in LedgerStage),
            written_off=int(data.get("written_off", 0)),
            obstructed=int(data.get("obstructed", 0)),
            departed=int(data.get("departed", 0)),
            members_registered=int(data.get("members_registered", 0)),
        )  # fmt: skip


def _meeting_figures(kind: MeetingKind, data: Mapping[str, Any]) -> MeetingFigures:
    return MeetingFigures(
        kind, int(data.get("count", 0)), int(data.get("attendees", 0)),
        int(data.get("new_members", 0)),
    )  # fmt: skip


async def draft_figures(
    *, session: AsyncSession, street_id: int, kind: ReportKind, period: str, zone: ZoneInfo
) -> ReportFigures:
    """What is already logged for the street in the period."""
    first, last = period_range(kind, period)
    held = col(Meeting.held_on)
    meeting_rows = await session.exec(
        select(Meeting.kind, func.count(), func.sum(Meeting.attendees),
               func.sum(Meeting.new_members))
        .where(Meeting.street_id == street_id, held >= first, held <= last)
        .group_by(Meeting.kind)
    )  # fmt: skip
    by_kind = {MeetingKind(k): (n, a or 0, m or 0) for k, n, a, m in meeting_rows.all()}
    visited = col(Visit.visited_on)
    visits, units = (
        await session.exec(
            select(func.count(), func.count(sa.distinct(col(Visit.unit_id)))).where(
                Visit.kind == VisitKind.UNIT, Visit.street_id == street_id,
                visited >= first, visited <= last,
            )
        )
    ).one()  # fmt: skip
    moves, closed = await _ledger_changes(session, street_id, utc_bounds(kind, period, zone))
    joined = col(Member.joined_on)
    members = (
        await session.exec(
            select(func.count()).where(
                Member.street_id == street_id, joined >= first, joined <= last
            )
        )
    ).one()
    return ReportFigures(
        meetings=tuple(MeetingFigures(k, *by_kind.get(k, (0, 0, 0))) for k in MeetingKind),
        unit_visits=visits,
        units_visited=units,
        ledger_moves=tuple((stage, moves.get(stage, 0)) for stage in LedgerStage),
        written_off=closed.get(LedgerOutcome.WRITTEN_OFF, 0),
        obstructed=closed.get(LedgerOutcome.OBSTRUCTED, 0),
        departed=closed.get(LedgerOutcome.DEPARTED, 0),
        members_registered=members,
    )


async def _ledger_changes(
    session: AsyncSession, street_id: int, bounds: tuple[datetime, datetime]
) -> tuple[dict[LedgerStage, int], dict[LedgerOutcome, int]]:
    """Stage moves by the stage reached, and the entries that left the ledger, by outcome.
    A history row with an outcome other than open records a closure, not a move (a
    write-off adds one after the move to its last stage)."""
    at = col(LedgerStageChange.at)
    rows = await session.exec(
        select(LedgerStageChange.to_stage, LedgerStageChange.outcome, func.count())
        .join(LedgerEntry, col(LedgerEntry.id) == LedgerStageChange.entry_id)
        .where(LedgerEntry.street_id == street_id, at >= bounds[0], at < bounds[1])
        .group_by(LedgerStageChange.to_stage, LedgerStageChange.outcome)
    )
    moves: dict[LedgerStage, int] = {}
    closed: dict[LedgerOutcome, int] = {}
    for stage, outcome, n in rows.all():
        if LedgerOutcome(outcome) is LedgerOutcome.OPEN:
            moves[LedgerStage(stage)] = moves.get(LedgerStage(stage), 0) + n
        else:
            closed[LedgerOutcome(outcome)] = closed.get(LedgerOutcome(outcome), 0) + n
    return moves, closed


# --- submissions --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportView:
    """A submission as the bot shows it, detached from the session."""

    id: int
    street_id: int
    street_name: str
    kind: ReportKind
    period: str
    figures: ReportFigures
    answers: dict[ReportField, str | None]  # every field of the kind, difficulties included
    submitted_by: int
    submitted_at: datetime
    corrected_at: datetime | None
    closed_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True)
class PeriodLine:
    """One street in a period's overview: its report, or None if it has not reported."""

    street_id: int
    street_name: str
    report: ReportView | None


class ReportRefusal(StrEnum):
    CLOSED = "closed"  # the district closed the period: no more corrections
    INCOMPLETE = "incomplete"  # an answer is missing or too long


def _view(row: ReportSubmission, street_name: str) -> ReportView:
    assert row.id is not None
    body = row.body or {}
    stored = body.get("answers") or {}
    kind = ReportKind(row.kind)
    answers = {
        f: row.difficulties if f is ReportField.DIFFICULTIES else stored.get(f.value)
        for f in report_fields(kind)
    }
    corrected = body.get("corrected_at")
    return ReportView(
        id=row.id, street_id=row.street_id, street_name=street_name, kind=kind,
        period=row.period, figures=ReportFigures.from_json(body.get("figures") or {}),
        answers=answers, submitted_by=row.submitted_by, submitted_at=row.submitted_at,
        corrected_at=datetime.fromisoformat(corrected) if corrected else None,
        closed_at=row.closed_at,
    )  # fmt: skip


def _snapshot(row: ReportSubmission) -> dict[str, Any]:
    return {
        "street_id": row.street_id, "kind": str(row.kind), "period": row.period,
        "difficulties": row.difficulties, "answers": dict((row.body or {}).get("answers") or {}),
        "figures": (row.body or {}).get("figures"),
    }  # fmt: skip


async def _submission(
    session: AsyncSession, street_id: int, kind: ReportKind, period: str
) -> ReportSubmission | None:
    # FOR UPDATE: on PostgreSQL a correction and a close of the same row are serialised
    # (SQLite's BEGIN IMMEDIATE already serialises writers).
    return (
        await session.exec(
            select(ReportSubmission)
            .where(
                ReportSubmission.street_id == street_id, ReportSubmission.kind == kind,
                ReportSubmission.period == period,
            )
            .with_for_update()
        )
    ).first()  # fmt: skip


async def submit_report(
    *,
    session: AsyncSession,
    street_id: int,
    kind: ReportKind,
    period: str,
    figures: ReportFigures,
    answers: Mapping[ReportField, str | None],
    by_user_id: int,
    now: datetime,
) -> ReportSubmission | ReportRefusal:
    """Submit a street's report for a period, or correct the one submitted while the period
    is open. Returns the refusal, with nothing written, otherwise."""
    if not valid_period(kind, period):
        raise ValueError(f"not a {kind.value} period: {period!r}")
    fields = report_fields(kind)
    cleaned = {f: (answers.get(f) or "").strip() or None for f in fields}
    if any(
        (text is None and not skippable(f)) or (text is not None and answer_problem(f, text))
        for f, text in cleaned.items()
    ):
        return ReportRefusal.INCOMPLETE
    row = await _submission(session, street_id, kind, period)
    if row is not None and row.closed_at is not None:
        return ReportRefusal.CLOSED
    before = None if row is None else _snapshot(row)
    answered = {f.value: text for f, text in cleaned.items() if f is not ReportField.DIFFICULTIES}
    body: dict[str, Any] = {"figures": figures.as_json(), "answers": answered}
    if row is None:
        row = ReportSubmission(
            street_id=street_id, kind=kind, period=period, submitted_by=by_user_id,
            submitted_at=now,
        )  # fmt: skip
    else:
        # A correction keeps who first submitted and when: lateness is judged by that.
        body.update(corrected_at=now.isoformat(), corrected_by=by_user_id)
    row.body, row.difficulties = body, cleaned[ReportField.DIFFICULTIES]
    session.add(row)
    await session.flush()
    audit.record(
        session=session, now=now, actor_user_id=by_user_id,
        action="report.submit" if before is None else "report.correct", entity="report",
        entity_id=row.id, before=before, after=_snapshot(row),
    )  # fmt: skip
    return row


async def find_report(
    *, session: AsyncSession, street_id: int, kind: ReportKind, period: str
) -> ReportView | None:
    found = (
        await session.exec(
            select(ReportSubmission, Street.name)
            .join(Street, col(Street.id) == ReportSubmission.street_id)
            .where(
                ReportSubmission.street_id == street_id, ReportSubmission.kind == kind,
                ReportSubmission.period == period,
            )
        )
    ).first()  # fmt: skip
    return None if found is None else _view(*found)


async def period_overview(
    *, session: AsyncSession, kind: ReportKind, period: str
) -> list[PeriodLine]:
    """Every street in the plan's order, with its report for the period or None."""
    joined = sa.and_(
        col(ReportSubmission.street_id) == Street.id,
        col(ReportSubmission.kind) == kind,
        col(ReportSubmission.period) == period,
    )
    rows = await session.exec(
        select(Street, ReportSubmission)
        .join(ReportSubmission, joined, isouter=True)
        .order_by(col(Street.position), col(Street.id))
    )
    lines = []
    for street, row in rows.all():
        assert street.id is not None
        report = None if row is None else _view(row, street.name)
        lines.append(PeriodLine(street.id, street.name, report))
    return lines


async def close_period(
    *, session: AsyncSession, kind: ReportKind, period: str, by_user_id: int, now: datetime
) -> int:
    """Close every open submission of the period (no more corrections); how many it closed.
    A street that reports after the close submits an open report, closed at the next close."""
    rows = (
        await session.exec(
            select(ReportSubmission)
            .where(
                ReportSubmission.kind == kind, ReportSubmission.period == period,
                col(ReportSubmission.closed_at).is_(None),
            )
            .order_by(col(ReportSubmission.id))
            .with_for_update()
        )
    ).all()  # fmt: skip
    for row in rows:
        row.closed_at = now
        session.add(row)
        audit.record(
            session=session, now=now, actor_user_id=by_user_id, action="report.close",
            entity="report", entity_id=row.id, before={"closed_at": None},
            after={"closed_at": now.isoformat(), "kind": kind.value, "period": period},
        )  # fmt: skip
    return len(rows)
