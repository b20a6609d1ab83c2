"""Pace and forecast: is a target on course for its deadline, judged by the last four weeks?

Pure functions of counts and dates, so each verdict is a table test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

RECENT_WEEKS = 4  # the pace that counts is the last four weeks', not the year's average


class Verdict(StrEnum):
    DONE = "done"  # nothing remains
    ON_TRACK = "on_track"  # the recent pace, kept up, meets the target in time
    BEHIND = "behind"  # the recent pace leaves `shortfall` undone at the deadline
    MISSED = "missed"  # the deadline has passed with work remaining


@dataclass(frozen=True)
class Pace:
    remaining: int
    days_left: int  # calendar days from today through the deadline day, today included
    needed_per_week: Decimal
    recent_per_week: Decimal
    shortfall: int  # what the recent pace would leave undone at the deadline

    @property
    def verdict(self) -> Verdict:
        if self.remaining == 0:
            return Verdict.DONE
        if self.days_left <= 0:
            return Verdict.MISSED
        return Verdict.BEHIND if self.shortfall else Verdict.ON_TRACK


def one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), ROUND_HALF_UP)


def pace(*, remaining: int, done_recently: int, today: date, deadline: date) -> Pace:
    """Needed weekly pace to finish by the end of the deadline day, against the pace of the
    last RECENT_WEEKS weeks (`done_recently` counts what was done in those 28 days)."""
    days_left = max(0, (deadline - today).days + 1)
    weeks_left = Decimal(days_left) / 7
    recent = Decimal(done_recently) / RECENT_WEEKS
    needed = Decimal(remaining) / weeks_left if weeks_left else Decimal(remaining)
    projected = math.floor(recent * weeks_left)
    return Pace(
        remaining=remaining,
        days_left=days_left,
        needed_per_week=one_decimal(needed),
        recent_per_week=one_decimal(recent),
        shortfall=max(0, remaining - projected),
    )


def expected_by(*, target: int, start: date, deadline: date, today: date) -> int:
    """What an even pace from `start` would have achieved by `today` (whole units, rounded
    down): below this a street is behind schedule."""
    if today <= start:
        return 0
    if today >= deadline:
        return target
    return target * (today - start).days // (deadline - start).days
