"""The task ledger (台账): a unit stays on it (挂账) until it meets the completion standard,
then it is written off (销账) at once.

An entry moves one stage at a time (摸底走访 → 发函 → 两审两批 → 会员系统采集 → 法人证); reaching
会员系统采集 and 法人证 records the completion standard's two conditions, and when both hold the
entry is written off. It can also leave the ledger as obstructed (阻挠) or departed (迁出/注销),
with a reason. Anything else is refused with the reason, as a Refusal code.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import LedgerOutcome, LedgerStage, UnitStatus
from models.rules import is_unionised
from models.tables import Attachment, LedgerEntry, LedgerStageChange, Unit

STAGES = list(LedgerStage)
MAX_REASON = 500  # LedgerEntry.outcome_reason


class Refusal(StrEnum):
    CLOSED = "closed"  # the entry is already off the ledger
    NOT_ON_LEDGER = "not_on_ledger"
    SKIPS_STAGE = "skips_stage"
    BACKWARDS = "backwards"  # a stage already reached
    REASON_REQUIRED = "reason_required"
    NOT_A_DEPARTURE = "not_a_departure"  # departed needs moved_out or closed


def stage_refusal(*, stage: LedgerStage, outcome: LedgerOutcome, to: LedgerStage) -> Refusal | None:
    """Whether an open entry at `stage` may move to `to`: only to the very next stage."""
    if outcome is not LedgerOutcome.OPEN:
        return Refusal.CLOSED
    step = STAGES.index(to) - STAGES.index(stage)
    if step <= 0:
        return Refusal.BACKWARDS
    return Refusal.SKIPS_STAGE if step > 1 else None


def conditions_after(
    to: LedgerStage, *, member_system_collected: bool, legal_person_certified: bool
) -> tuple[bool, bool]:
    """The completion conditions once a unit reaches stage `to` (a stage is its evidence)."""
    return (
        member_system_collected or to is LedgerStage.COLLECTED,
        legal_person_certified or to is LedgerStage.CERTIFIED,
    )


async def advance_stage(
    *,
    session: AsyncSession,
    unit_id: int,
    to: LedgerStage,
    by_user_id: int,
    now: datetime,
    today: date,
    note: str | None = None,
) -> Refusal | None:
    """Move a unit's entry to the next stage; write it off when both conditions hold.
    Returns the refusal, with nothing written, if the move is not allowed."""
    entry = await _entry(session, unit_id)
    if entry is None:
        return Refusal.NOT_ON_LEDGER
    current, outcome = LedgerStage(entry.stage), LedgerOutcome(entry.outcome)
    refusal = stage_refusal(stage=current, outcome=outcome, to=to)
    if refusal is not None:
        return refusal
    unit = await session.get(Unit, unit_id)
    assert unit is not None  # the entry's foreign key
    collected, certified = conditions_after(
        to,
        member_system_collected=unit.member_system_collected,
        legal_person_certified=unit.legal_person_certified,
    )
    entry.stage = to
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    session.add(
        LedgerStageChange(
            entry_id=entry.id, from_stage=current, to_stage=to, at=now, by_user_id=by_user_id,
            note=note,
        )
    )  # fmt: skip
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="ledger.stage",
        entity="ledger", entity_id=entry.id, before={"stage": current.value},
        after={"stage": to.value},
    )  # fmt: skip
    if (collected, certified) != (unit.member_system_collected, unit.legal_person_certified):
        await record_completion(
            session=session, unit_id=unit_id, member_system_collected=collected,
            legal_person_certified=certified, by_user_id=by_user_id, now=now, today=today,
        )  # fmt: skip
    return None


async def close_entry(
    *,
    session: AsyncSession,
    unit_id: int,
    outcome: LedgerOutcome,
    reason: str,
    by_user_id: int,
    now: datetime,
    today: date,
    unit_status: UnitStatus | None = None,
) -> Refusal | None:
    """Take an entry off the ledger as obstructed (阻挠) or departed (迁出/注销), with a
    reason. A departed unit also leaves the target base (dynamic management)."""
    if outcome not in (LedgerOutcome.OBSTRUCTED, LedgerOutcome.DEPARTED):
        raise ValueError(f"close_entry takes obstructed or departed, not {outcome}")
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        return Refusal.REASON_REQUIRED
    departed = outcome is LedgerOutcome.DEPARTED
    if departed and unit_status not in (UnitStatus.MOVED_OUT, UnitStatus.CLOSED):
        return Refusal.NOT_A_DEPARTURE
    entry = await _entry(session, unit_id)
    if entry is None:
        return Refusal.NOT_ON_LEDGER
    if entry.outcome != LedgerOutcome.OPEN:
        return Refusal.CLOSED
    entry.outcome, entry.outcome_reason = outcome, reason
    # An obstructed unit is still owed a union: it stays in the counts, only the entry says
    # why it is stuck. A departed one is gone, so its entry is closed.
    entry.closed_on = today if departed else None
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    stage = LedgerStage(entry.stage)
    session.add(
        LedgerStageChange(
            entry_id=entry.id, from_stage=stage, to_stage=stage, outcome=outcome, at=now,
            by_user_id=by_user_id, note=reason,
        )
    )  # fmt: skip
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action=f"ledger.{outcome.value}",
        entity="ledger", entity_id=entry.id, before={"outcome": LedgerOutcome.OPEN.value},
        after={"outcome": outcome.value, "reason": reason},
    )  # fmt: skip
    if departed:
        unit = await session.get(Unit, unit_id)
        assert unit is not None and unit_status is not None
        audit.record(
            session=session, now=now, actor_user_id=by_user_id, action="unit.status",
            entity="unit", entity_id=unit_id, before={"status": str(unit.status)},
            after={"status": unit_status.value},
        )  # fmt: skip
        unit.status = unit_status
        session.add(unit)
    return None


async def _entry(session: AsyncSession, unit_id: int) -> LedgerEntry | None:
    return (await session.exec(select(LedgerEntry).where(LedgerEntry.unit_id == unit_id))).first()


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
    entry = await _entry(session, unit_id)
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


async def latest_step(*, session: AsyncSession, unit_id: int) -> int | None:
    """The id of the newest step in a unit's ledger history (the one evidence belongs to)."""
    entry = await _entry(session, unit_id)
    if entry is None:
        return None
    return (
        await session.exec(
            select(LedgerStageChange.id)
            .where(LedgerStageChange.entry_id == entry.id)
            .order_by(col(LedgerStageChange.id).desc())
        )
    ).first()


async def add_step_evidence(
    *, session: AsyncSession, step_id: int, evidence: dict[str, str], now: datetime
) -> Attachment:
    attachment = Attachment(
        stage_change_id=step_id, media_kind=evidence["media_kind"],
        telegram_file_id=evidence["file_id"], telegram_file_unique_id=evidence["unique_id"],
        created_at=now,
    )  # fmt: skip
    session.add(attachment)
    await session.flush()
    return attachment
