"""The ledger on the demo district: stage by stage to a write-off, and the ways off it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from bot.db import Database
from bot.settings import PROJECT_ROOT
from models.enums import LedgerOutcome, LedgerStage, UnitStatus
from models.ledger import Refusal, advance_stage, close_entry
from models.plan import load_plan
from models.status import district_status
from models.tables import AuditEntry, LedgerEntry, LedgerStageChange, Unit

PLAN = load_plan(PROJECT_ROOT / "plans" / "fangshan-2018.toml")
NOW = datetime(2018, 3, 15, 2, 0, tzinfo=UTC)
TODAY = date(2018, 3, 15)
OFFICER = 20001


@pytest.fixture
def db(demo_db: Database) -> Database:
    return demo_db


async def open_unit(db: Database) -> int:
    async with db.session() as session:
        unit_id = (
            await session.exec(
                select(LedgerEntry.unit_id)
                .join(Unit, col(Unit.id) == LedgerEntry.unit_id)
                .where(Unit.on_detail_table)
                .order_by(col(LedgerEntry.id))
            )
        ).first()
    assert unit_id is not None
    return unit_id


async def move(db: Database, unit_id: int, to: LedgerStage) -> Refusal | None:
    async with db.session(write=True) as session:
        return await advance_stage(
            session=session, unit_id=unit_id, to=to, by_user_id=OFFICER, now=NOW, today=TODAY
        )


async def snapshot(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        audits = len((await session.exec(select(AuditEntry.id))).all())
        changes = len((await session.exec(select(LedgerStageChange.id))).all())
        status = await district_status(session=session, plan=PLAN, today=TODAY)
    return audits, changes, status.remaining.overall


async def test_stage_by_stage_to_a_write_off_that_moves_the_figures(db: Database) -> None:
    unit_id = await open_unit(db)
    for to in list(LedgerStage)[1:]:
        before = await snapshot(db)
        assert await move(db, unit_id, to) is None
        assert (await snapshot(db))[:2] != before[:2]  # audited, and in the history
        remaining = (await snapshot(db))[2]
        assert remaining == (90 if to is LedgerStage.CERTIFIED else 91)
    async with db.session() as session:
        unit = await session.get(Unit, unit_id)
        entry = (
            await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id))
        ).one()
    assert unit is not None and unit.unionised_on == TODAY
    assert (unit.member_system_collected, unit.legal_person_certified) == (True, True)
    assert (entry.stage, entry.outcome, entry.closed_on) == (
        LedgerStage.CERTIFIED, LedgerOutcome.WRITTEN_OFF, TODAY
    )  # fmt: skip
    assert await move(db, unit_id, LedgerStage.CERTIFIED) is Refusal.CLOSED


async def test_illegal_moves_are_refused_and_write_nothing(db: Database) -> None:
    unit_id = await open_unit(db)
    before = await snapshot(db)
    assert await move(db, unit_id, LedgerStage.CERTIFIED) is Refusal.SKIPS_STAGE
    assert await move(db, unit_id, LedgerStage.SURVEYED) is Refusal.BACKWARDS
    async with db.session(write=True) as session:
        unionised = (await session.exec(select(Unit.id).where(Unit.legal_person_certified))).first()
        assert unionised is not None
        assert (
            await advance_stage(session=session, unit_id=unionised, to=LedgerStage.LETTER_ISSUED,
                                by_user_id=OFFICER, now=NOW, today=TODAY)
            is Refusal.NOT_ON_LEDGER
        )  # fmt: skip
        for outcome, reason, status, refusal in (
            (LedgerOutcome.OBSTRUCTED, "  ", None, Refusal.REASON_REQUIRED),
            (LedgerOutcome.DEPARTED, "迁往河北", None, Refusal.NOT_A_DEPARTURE),
            (LedgerOutcome.DEPARTED, "迁往河北", UnitStatus.ACTIVE, Refusal.NOT_A_DEPARTURE),
        ):
            assert (
                await close_entry(session=session, unit_id=unit_id, outcome=outcome,
                                  reason=reason, by_user_id=OFFICER, now=NOW, today=TODAY,
                                  unit_status=status)
                is refusal
            )  # fmt: skip
    assert await snapshot(db) == before


async def test_obstructed_stays_counted_and_departed_leaves_the_base(db: Database) -> None:
    unit_id = await open_unit(db)
    async with db.session() as session:
        other = (
            await session.exec(
                select(LedgerEntry.unit_id).where(LedgerEntry.unit_id != unit_id).limit(1)
            )
        ).one()
    async with db.session(write=True) as session:
        assert await close_entry(
            session=session, unit_id=unit_id, outcome=LedgerOutcome.OBSTRUCTED,
            reason="法人拒绝组建", by_user_id=OFFICER, now=NOW, today=TODAY,
        ) is None  # fmt: skip
        assert await close_entry(
            session=session, unit_id=other, outcome=LedgerOutcome.DEPARTED, reason="迁往河北",
            by_user_id=OFFICER, now=NOW, today=TODAY, unit_status=UnitStatus.MOVED_OUT,
        ) is None  # fmt: skip
    async with db.session() as session:
        status = await district_status(session=session, plan=PLAN, today=TODAY)
        obstructed = (
            await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id))
        ).one()
    assert (obstructed.outcome, obstructed.closed_on) == (LedgerOutcome.OBSTRUCTED, None)
    # The departed unit leaves the ≥100 base (389 units); the obstructed one is still owed.
    assert (status.counts.units_100_plus, status.not_unionised_100_plus) == (389, 203)
    assert status.counts.units == 15098
    assert await move(db, unit_id, LedgerStage.LETTER_ISSUED) is Refusal.CLOSED
