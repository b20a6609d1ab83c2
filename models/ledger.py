"""The task ledger (台账): a unit stays on it (挂账) until it meets the completion standard,
then it is written off (销账) at once."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import LedgerOutcome, LedgerStage
from models.rules import is_unionised
from models.tables import LedgerEntry, LedgerStageChange, Unit


async def record_completion(
    *,
    session: AsyncSession,
    unit_id: int,
    member_system_collected: bool,
    legal_person_certified: bool,
    by_user_id: int | None,
    now: datetime,
    today: date,
) -> bool:
    """Record the completion standard's two conditions for a unit; when both hold, the unit
    is unionised from `today` and its ledger entry is written off. True if it was."""
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise LookupError(f"no unit {unit_id}")
    before = {
        "member_system_collected": unit.member_system_collected,
        "legal_person_certified": unit.legal_person_certified,
        "unionised_on": str(unit.unionised_on) if unit.unionised_on else None,
    }
    was_unionised = is_unionised(
        member_system_collected=unit.member_system_collected,
        legal_person_certified=unit.legal_person_certified,
    )
    unit.member_system_collected = member_system_collected
    unit.legal_person_certified = legal_person_certified
    done = is_unionised(
        member_system_collected=member_system_collected,
        legal_person_certified=legal_person_certified,
    )
    if done and not was_unionised:
        unit.unionised_on = today
    session.add(unit)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="unit.completion",
        entity="unit", entity_id=unit_id, before=before,
        after={**before, "member_system_collected": member_system_collected,
               "legal_person_certified": legal_person_certified,
               "unionised_on": str(unit.unionised_on) if unit.unionised_on else None},
    )  # fmt: skip
    if done and not was_unionised:
        await _write_off(session, unit_id, by_user_id=by_user_id, now=now, today=today)
    return done and not was_unionised


async def _write_off(
    session: AsyncSession, unit_id: int, *, by_user_id: int | None, now: datetime, today: date
) -> None:
    entry = (await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id))).first()
    if entry is None or entry.outcome != LedgerOutcome.OPEN:
        return
    from_stage = LedgerStage(entry.stage)
    entry.stage, entry.outcome, entry.closed_on = (
        LedgerStage.CERTIFIED, LedgerOutcome.WRITTEN_OFF, today
    )  # fmt: skip
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    session.add(
        LedgerStageChange(
            entry_id=entry.id, from_stage=from_stage, to_stage=LedgerStage.CERTIFIED,
            outcome=LedgerOutcome.WRITTEN_OFF, at=now, by_user_id=by_user_id,
        )
    )  # fmt: skip
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="ledger.write_off",
        entity="ledger", entity_id=entry.id,
        before={"stage": from_stage.value, "outcome": LedgerOutcome.OPEN.value},
        after={"stage": LedgerStage.CERTIFIED.value, "outcome": LedgerOutcome.WRITTEN_OFF.value},
    )  # fmt: skip
