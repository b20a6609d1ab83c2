"""Pace and forecast: the needed weekly pace against the last four weeks', as a verdict."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from models.pace import Verdict, expected_by, pace

DEADLINE = date(2018, 10, 30)


@pytest.mark.parametrize(
    ("remaining", "recently", "today", "verdict", "shortfall", "needed", "recent"),
    [
        # 91 left with 230 days (32.9 weeks) to go: 2.8 a week needed; none lately.
        (91, 0, date(2018, 3, 15), Verdict.BEHIND, 91, "2.8", "0.0"),
        # 12 in the last four weeks is 3 a week: 98 by the deadline, more than the 91 left.
        (91, 12, date(2018, 3, 15), Verdict.ON_TRACK, 0, "2.8", "3.0"),
        # 2 a week for 32.9 weeks makes 65: 26 short.
        (91, 8, date(2018, 3, 15), Verdict.BEHIND, 26, "2.8", "2.0"),
        (0, 0, date(2018, 3, 15), Verdict.DONE, 0, "0.0", "0.0"),
        # The deadline day itself still counts as one day (one seventh of a week).
        (1, 28, DEADLINE, Verdict.ON_TRACK, 0, "7.0", "7.0"),
        (5, 4, date(2018, 10, 31), Verdict.MISSED, 5, "5.0", "1.0"),
        (0, 4, date(2018, 11, 30), Verdict.DONE, 0, "0.0", "1.0"),
    ],
)
def test_pace_verdicts(
    remaining: int,
    recently: int,
    today: date,
    verdict: Verdict,
    shortfall: int,
    needed: str,
    recent: str,
) -> None:
    result = pace(remaining=remaining, done_recently=recently, today=today, deadline=DEADLINE)
    assert result.verdict is verdict
    assert result.shortfall == shortfall
    assert result.needed_per_week == Decimal(needed)
    assert result.recent_per_week == Decimal(recent)


@pytest.mark.parametrize(
    ("target", "today", "expected"),
    [
        (13, date(2018, 2, 28), 0),  # the plan's start: nothing due yet
        (20, date(2018, 3, 15), 1),  # 15 of 244 days: 20 × 15 / 244 = 1.2, rounded down
        (13, date(2018, 6, 30), 6),  # 122 of 244 days: half of 13, rounded down
        (13, date(2018, 10, 30), 13),
        (13, date(2018, 12, 1), 13),
    ],
)
def test_expected_by_an_even_pace(target: int, today: date, expected: int) -> None:
    start, deadline = date(2018, 2, 28), date(2018, 10, 30)
    assert expected_by(target=target, start=start, deadline=deadline, today=today) == expected
