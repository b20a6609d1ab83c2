"""The benchmarks' full-size dataset: a year of activity on the demo district, consistent
with itself and the same on every run. Built small (2,000 members) to keep the tests quick."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.fullsize import (
    ActivityAlreadySeeded,
    ActivitySummary,
    NotSeededError,
    build_full_size_database,
    seed_year_of_activity,
)
from bot.db import Database
from bot.settings import PROJECT_ROOT
from models.demo import seed_demo
from models.enums import LedgerOutcome, LedgerStage, MeetingKind, UnitStatus, VisitKind
from models.plan import load_plan
from models.tables import (
    LedgerEntry,
    LedgerStageChange,
    Meeting,
    Member,
    Officer,
    ReportSubmission,
    Unit,
    Visit,
)

PLAN = load_plan(PROJECT_ROOT / "plans" / "fangshan-2018.toml")
START = PLAN.baseline.as_of + timedelta(days=1)
THROUGH = date(2018, 9, 15)
END_OF_THROUGH = datetime.combine(THROUGH + timedelta(days=1), time(0), tzinfo=PLAN.zone)
MEMBERS = 2000

# The built database lives on the module's event loop; so must the tests that use it.
pytestmark = pytest.mark.asyncio(loop_scope="module")


def _url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder}/fullsize.db"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Database, ActivitySummary]]:
    """Built once for the module, through the session API (the determinism test builds a
    second one through build_full_size_database)."""
    db = Database(_url(tmp_path_factory.mktemp("fullsize")))
    await db.upgrade()
    async with db.session(write=True) as session:
        await seed_demo(session=session, plan=PLAN)
    async with db.session(write=True) as session:
        summary = await seed_year_of_activity(
            session=session, plan=PLAN, through=THROUGH, members=MEMBERS
        )
    yield db, summary
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def session(built: tuple[Database, ActivitySummary]) -> AsyncIterator[AsyncSession]:
    async with built[0].session() as session:
        yield session


async def rows(session: AsyncSession, query: Any) -> list[Any]:
    return list((await (await session.connection()).execute(query)).all())


async def scalar(session: AsyncSession, query: Any) -> Any:
    return (await (await session.connection()).execute(query)).scalar_one()


async def fingerprint(db: Database) -> list[Any]:
    """Row counts of every table the activity writes, and sums of a few columns."""
    async with db.session() as session:
        counts = [
            await scalar(session, sa.select(sa.func.count()).select_from(table))
            for table in (
                LedgerStageChange, Meeting, Visit, ReportSubmission, Member, Officer,
            )
        ]  # fmt: skip
        sums = await rows(
            session,
            sa.select(
                sa.select(sa.func.sum(Unit.member_count)).scalar_subquery(),
                sa.select(sa.func.count()).where(col(Unit.unionised_on) > PLAN.baseline.as_of)
                .scalar_subquery(),
                sa.select(sa.func.sum(Meeting.attendees)).scalar_subquery(),
                sa.select(sa.func.sum(Meeting.new_members)).scalar_subquery(),
                sa.select(sa.func.sum(Visit.unit_id)).scalar_subquery(),
                sa.select(sa.func.sum(Member.unit_id)).scalar_subquery(),
                sa.select(sa.func.max(Member.mobile)).scalar_subquery(),
                sa.select(sa.func.min(Member.name)).scalar_subquery(),
            ),
        )  # fmt: skip
    return [*counts, *sums[0]]


# --- refusals ---------------------------------------------------------------------------


async def test_refuses_a_database_without_the_demo_district(tmp_path: Path) -> None:
    db = Database(_url(tmp_path))
    await db.upgrade()
    try:
        with pytest.raises(NotSeededError, match="seed_demo"):
            async with db.session(write=True) as session:
                await seed_year_of_activity(session=session, plan=PLAN, through=THROUGH)
    finally:
        await db.dispose()


async def test_refuses_a_second_year(built: tuple[Database, ActivitySummary]) -> None:
    db, _ = built
    before = await fingerprint(db)
    with pytest.raises(ActivityAlreadySeeded):
        async with db.session(write=True) as session:
            await seed_year_of_activity(session=session, plan=PLAN, through=THROUGH, members=10)
    assert await fingerprint(db) == before


async def test_refuses_a_day_before_the_activity(built: tuple[Database, ActivitySummary]) -> None:
    with pytest.raises(ValueError, match="before the activity starts"):
        async with built[0].session(write=True) as session:
            await seed_year_of_activity(session=session, plan=PLAN, through=PLAN.baseline.as_of)


# --- determinism --------------------------------------------------------------------------


async def test_two_builds_are_identical(
    built: tuple[Database, ActivitySummary], tmp_path: Path
) -> None:
    db, summary = built
    again = await build_full_size_database(_url(tmp_path), PLAN, through=THROUGH, members=MEMBERS)
    other = Database(_url(tmp_path))
    try:
        assert await fingerprint(other) == await fingerprint(db)
    finally:
        await other.dispose()
    assert again == summary


# --- the ledger ---------------------------------------------------------------------------


async def test_written_off_units_meet_the_completion_standard(session: AsyncSession) -> None:
    written_off = await rows(
        session,
        sa.select(
            col(LedgerEntry.id), col(LedgerEntry.stage), col(LedgerEntry.closed_on),
            col(Unit.member_system_collected), col(Unit.legal_person_certified),
            col(Unit.unionised_on), col(Unit.member_count), col(Unit.tax_headcount),
        )
        .join(Unit, col(Unit.id) == col(LedgerEntry.unit_id))
        .where(col(LedgerEntry.outcome) == LedgerOutcome.WRITTEN_OFF),
    )  # fmt: skip
    assert written_off
    for _, stage, closed_on, collected, certified, on, members, headcount in written_off:
        assert stage == LedgerStage.CERTIFIED
        assert collected and certified
        assert on == closed_on
        assert START <= on <= THROUGH
        assert 0 < members <= headcount


async def test_each_write_off_has_five_stage_changes_in_order(session: AsyncSession) -> None:
    changes = await rows(
        session,
        sa.select(
            col(LedgerStageChange.entry_id), col(LedgerStageChange.from_stage),
            col(LedgerStageChange.to_stage), col(LedgerStageChange.outcome),
            col(LedgerStageChange.at), col(LedgerStageChange.by_user_id),
            col(LedgerEntry.closed_on),
        )
        .join(LedgerEntry, col(LedgerEntry.id) == col(LedgerStageChange.entry_id))
        .where(col(LedgerEntry.outcome) == LedgerOutcome.WRITTEN_OFF)
        .order_by(col(LedgerStageChange.entry_id), col(LedgerStageChange.id)),
    )  # fmt: skip
    history: dict[int, list[Any]] = {}
    for row in changes:
        history.setdefault(row.entry_id, []).append(row)
    for steps in history.values():
        assert [s.to_stage for s in steps] == list(LedgerStage)
        assert [s.from_stage for s in steps] == [None, *list(LedgerStage)[:-1]]
        moments = [s.at for s in steps]
        assert all(m.tzinfo is not None for m in moments)
        assert moments == sorted(moments) and len(set(moments)) == 5
        assert [s.outcome for s in steps][-1] == LedgerOutcome.WRITTEN_OFF
        assert moments[-1].astimezone(PLAN.zone).date() == steps[-1].closed_on
        assert all(s.by_user_id for s in steps[1:])  # the baseline survey is by nobody


async def test_written_off_by_september_is_on_the_way_to_the_target(
    built: tuple[Database, ActivitySummary], session: AsyncSession
) -> None:
    _, summary = built
    count = await scalar(
        session,
        sa.select(sa.func.count())
        .select_from(LedgerEntry)
        .where(col(LedgerEntry.outcome) == LedgerOutcome.WRITTEN_OFF),
    )
    assert count == summary.written_off_100_plus
    # 60–80 by the end of October, with the pace building up towards it.
    assert 20 <= count < 60
    assert 50 <= summary.written_off["<100"] <= 300


async def test_other_entries_move_part_way_or_leave(session: AsyncSession) -> None:
    others = await rows(
        session,
        sa.select(
            col(LedgerEntry.stage), col(LedgerEntry.outcome), col(LedgerEntry.closed_on),
            col(LedgerEntry.outcome_reason), col(Unit.status), col(Unit.legal_person_certified),
        )
        .join(Unit, col(Unit.id) == col(LedgerEntry.unit_id))
        .where(col(LedgerEntry.outcome) != LedgerOutcome.WRITTEN_OFF),
    )  # fmt: skip
    stages = {stage for stage, outcome, *_ in others if outcome == LedgerOutcome.OPEN}
    assert LedgerStage.CERTIFIED not in stages
    assert {LedgerStage.SURVEYED, LedgerStage.LETTER_ISSUED} <= stages
    for _, outcome, closed_on, reason, status, certified in others:
        assert not certified
        if outcome == LedgerOutcome.DEPARTED:
            assert status in (UnitStatus.MOVED_OUT, UnitStatus.CLOSED)
            assert closed_on is not None and reason
        else:
            assert status == UnitStatus.ACTIVE
        if outcome == LedgerOutcome.OBSTRUCTED:
            assert reason and closed_on is None
        if outcome == LedgerOutcome.OPEN:
            assert closed_on is None
    outcomes = {outcome for _, outcome, *_ in others}
    assert LedgerOutcome.OBSTRUCTED in outcomes or LedgerOutcome.DEPARTED in outcomes


# --- members ------------------------------------------------------------------------------


async def test_mobiles_are_unique_mainland_numbers(session: AsyncSession) -> None:
    mobiles = [m for (m,) in await rows(session, sa.select(col(Member.mobile)))]
    assert len(mobiles) == MEMBERS
    assert len(set(mobiles)) == MEMBERS
    assert all(re.fullmatch(r"1[3-9]\d{9}", m) for m in mobiles)


async def test_members_belong_to_unionised_units_of_their_street(session: AsyncSession) -> None:
    members = await rows(
        session,
        sa.select(
            col(Member.street_id), col(Unit.street_id), col(Member.joined_on),
            col(Unit.unionised_on), col(Unit.member_system_collected),
            col(Unit.legal_person_certified), col(Member.source), col(Member.created_at),
        ).join(Unit, col(Unit.id) == col(Member.unit_id)),
    )  # fmt: skip
    assert len(members) == MEMBERS
    for street, unit_street, joined, on, collected, certified, source, created in members:
        assert street == unit_street
        assert collected and certified
        assert on <= joined <= THROUGH
        assert source in ("import", "officer", "online")
        assert created < END_OF_THROUGH
        assert (joined < START) == (source == "import")
    assert {source for *_, source, _ in members} == {"import", "officer", "online"}


async def test_members_met_at_a_meeting_joined_on_its_day_in_its_street(
    session: AsyncSession,
) -> None:
    joined = await rows(
        session,
        sa.select(
            col(Member.street_id), col(Meeting.street_id), col(Member.joined_on),
            col(Meeting.held_on),
        ).join(Meeting, col(Meeting.id) == col(Member.meeting_id)),
    )  # fmt: skip
    assert joined
    assert all(ms == gs and mj == gh for ms, gs, mj, gh in joined)


# --- meetings, visits, reports, officers -------------------------------------------------


async def test_nothing_happens_after_the_cut(session: AsyncSession) -> None:
    assert await scalar(session, sa.select(sa.func.max(Meeting.held_on))) <= THROUGH
    assert await scalar(session, sa.select(sa.func.max(Visit.visited_on))) <= THROUGH
    for moment in (
        Meeting.created_at,
        Visit.created_at,
        ReportSubmission.submitted_at,
        LedgerStageChange.at,
    ):
        assert await scalar(session, sa.select(sa.func.max(moment))) < END_OF_THROUGH
    assert await scalar(session, sa.select(sa.func.min(Meeting.held_on))) >= START


async def test_meetings_of_every_kind_in_every_street(
    built: tuple[Database, ActivitySummary], session: AsyncSession
) -> None:
    _, summary = built
    meetings = await rows(
        session,
        sa.select(
            col(Meeting.street_id), col(Meeting.kind), col(Meeting.attendees),
            col(Meeting.new_members), col(Meeting.place), col(Meeting.created_by),
        ),
    )  # fmt: skip
    assert {kind for _, kind, *_ in meetings} == set(MeetingKind)
    assert len({street for street, *_ in meetings}) == len(PLAN.streets)
    assert all(15 <= attendees <= 200 for *_, attendees, _, _, _ in meetings)
    assert all(0 <= new <= 30 for *_, new, _, _ in meetings)
    assert all(place for *_, place, _ in meetings)
    assert {kind.value: n for kind, n in Counter(k for _, k, *_ in meetings).items()} == {
        kind: n for kind, n in summary.meetings.items() if n
    }
    officers = {
        user_id for (user_id,) in await rows(session, sa.select(col(Officer.telegram_user_id)))
    }
    assert {by for *_, by in meetings} <= officers
    assert not officers & {10001, 20001, 30001, 99999}


async def test_visits_to_ledger_units_and_guidance_to_streets(
    built: tuple[Database, ActivitySummary], session: AsyncSession
) -> None:
    _, summary = built
    visits = await rows(
        session, sa.select(col(Visit.kind), col(Visit.unit_id), col(Visit.street_id))
    )
    unit_visits = [v for v in visits if v.kind == VisitKind.UNIT]
    guidance = [v for v in visits if v.kind == VisitKind.GUIDANCE]
    assert len(unit_visits) == summary.unit_visits and len(guidance) == summary.guidance_visits
    ledger_units = {
        unit_id for (unit_id,) in await rows(session, sa.select(col(LedgerEntry.unit_id)))
    }
    assert {v.unit_id for v in unit_visits} <= ledger_units
    assert all(v.unit_id is None for v in guidance)
    # About 60% of the streets by the year's end: fewer by September, never all.
    assert 0 < summary.streets_guided < len(PLAN.streets)


async def test_monthly_reports_for_most_streets(
    built: tuple[Database, ActivitySummary], session: AsyncSession
) -> None:
    _, summary = built
    reports = await rows(
        session,
        sa.select(
            col(ReportSubmission.kind), col(ReportSubmission.period), col(ReportSubmission.body)
        ),
    )
    monthly = Counter(period for kind, period, _ in reports if kind == "monthly")
    assert len(reports) == sum(summary.reports.values())
    for month in range(3, 9):  # March to August are over and due by the cut
        assert len(PLAN.streets) // 2 < monthly[f"2018-{month:02d}"] <= len(PLAN.streets)
    assert all(isinstance(body, dict) and body for *_, body in reports)
