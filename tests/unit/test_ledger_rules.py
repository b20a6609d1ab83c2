"""Ledger moves: one stage at a time, never back, never on a closed entry."""

from __future__ import annotations

import pytest

from models.enums import LedgerOutcome, LedgerStage
from models.ledger import Refusal, conditions_after, stage_refusal

S = LedgerStage
OPEN = LedgerOutcome.OPEN


@pytest.mark.parametrize(
    ("stage", "outcome", "to", "refusal"),
    [
        (S.SURVEYED, OPEN, S.LETTER_ISSUED, None),
        (S.LETTER_ISSUED, OPEN, S.APPROVED, None),
        (S.APPROVED, OPEN, S.COLLECTED, None),
        (S.COLLECTED, OPEN, S.CERTIFIED, None),
        (S.SURVEYED, OPEN, S.APPROVED, Refusal.SKIPS_STAGE),
        (S.SURVEYED, OPEN, S.CERTIFIED, Refusal.SKIPS_STAGE),  # writing off at one stroke
        (S.LETTER_ISSUED, OPEN, S.COLLECTED, Refusal.SKIPS_STAGE),
        (S.APPROVED, OPEN, S.APPROVED, Refusal.BACKWARDS),
        (S.COLLECTED, OPEN, S.SURVEYED, Refusal.BACKWARDS),
        (S.CERTIFIED, LedgerOutcome.WRITTEN_OFF, S.CERTIFIED, Refusal.CLOSED),
        (S.SURVEYED, LedgerOutcome.OBSTRUCTED, S.LETTER_ISSUED, Refusal.CLOSED),
        (S.APPROVED, LedgerOutcome.DEPARTED, S.COLLECTED, Refusal.CLOSED),
    ],
)
def test_stage_moves(
    stage: LedgerStage, outcome: LedgerOutcome, to: LedgerStage, refusal: Refusal | None
) -> None:
    assert stage_refusal(stage=stage, outcome=outcome, to=to) is refusal


@pytest.mark.parametrize(
    ("to", "before", "after"),
    [
        (S.LETTER_ISSUED, (False, False), (False, False)),
        (S.COLLECTED, (False, False), (True, False)),
        (S.CERTIFIED, (True, False), (True, True)),  # both: the entry is written off
        (S.CERTIFIED, (False, False), (False, True)),  # never collected: not unionised
        (S.APPROVED, (True, True), (True, True)),
    ],
)
def test_a_stage_records_its_completion_condition(
    to: LedgerStage, before: tuple[bool, bool], after: tuple[bool, bool]
) -> None:
    collected, certified = before
    assert (
        conditions_after(to, member_system_collected=collected, legal_person_certified=certified)
        == after
    )
