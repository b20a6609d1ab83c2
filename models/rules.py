"""Pure domain rules of the plan: bands, tiers, completion, what remains, deadlines.

Nothing here reads the clock or touches a database: every function takes its inputs,
`now` included, as arguments, so each rule is a table test.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from models.plan import ResponsibilityTier, SizeBand

K = TypeVar("K", bound=Hashable)


def size_band(headcount: int, bands: Sequence[SizeBand]) -> SizeBand | None:
    """The counting band (100–499 / 500–999 / 1000+); None below the first band."""
    return next((band for band in bands if band.contains(headcount)), None)


def responsibility_tier(headcount: int, tiers: Sequence[ResponsibilityTier]) -> ResponsibilityTier:
    """Who leads formation for a unit of this size (属地主责). Tiers cover every headcount."""
    for tier in tiers:
        if tier.contains(headcount):
            return tier
    raise ValueError(f"no responsibility tier covers a headcount of {headcount}")


def is_unionised(*, member_system_collected: bool, legal_person_certified: bool) -> bool:
    """完成标准: collected into the member management system AND legal-person certificate."""
    return member_system_collected and legal_person_certified


def units_needed_for_rate(*, total: int, unionised: int, min_rate: Decimal) -> int:
    """Units still to unionise for unionised/total to reach min_rate.

    Decimal, not float: 0.53 × 100 must be exactly 53, not 53.000000000000004 → 54.
    """
    needed = math.ceil(Decimal(total) * min_rate)
    return max(0, needed - unionised)


@dataclass(frozen=True)
class Remaining:
    """What the ≥100 target still needs, under each of its two rules."""

    rate_rule: int
    count_rule: int

    @property
    def overall(self) -> int:
        # Both rules must hold, so the larger shortfall is the work left.
        return max(self.rate_rule, self.count_rule)


def remaining_units_to_unionise(
    *, total: int, unionised: int, newly_unionised: int, min_rate: Decimal, min_new_units: int
) -> Remaining:
    """Remaining ≥100 units: the rate rule (≥53% of all ≥100 units) against the count rule
    (≥ min_new_units newly unionised since the baseline). For a street, min_new_units is its
    allocated share of the district's count."""
    return Remaining(
        rate_rule=units_needed_for_rate(total=total, unionised=unionised, min_rate=min_rate),
        count_rule=max(0, min_new_units - newly_unionised),
    )


def meetings_remaining(*, held: int, per_street: int) -> int:
    return max(0, per_street - held)


def rate_percent(part: int, whole: int) -> Decimal:
    """A share as the plan writes it: a percentage with two decimals, half up (16.08)."""
    if whole == 0:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def business_date(now: datetime, zone: ZoneInfo) -> date:
    """The calendar day in the plan's zone; `now` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date()


def deadline_end(deadline: date, zone: ZoneInfo) -> datetime:
    """The first instant after a deadline day: "10月30日24点" is 10-31 00:00 in the zone."""
    return datetime.combine(deadline + timedelta(days=1), time(0), tzinfo=zone)


def is_past_deadline(now: datetime, deadline: date, zone: ZoneInfo) -> bool:
    return now >= deadline_end(deadline, zone)


def days_to_deadline(now: datetime, deadline: date, zone: ZoneInfo) -> int:
    """Whole days left before the deadline day: 0 on the day itself, negative once past."""
    return (deadline - business_date(now, zone)).days


def allocate(total: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split `total` in proportion to `weights` by largest remainder (Hamilton's method).

    The shares are whole and add up to `total` exactly; ties go to the larger weight, then to
    the earlier key, so the result is deterministic.
    """
    whole = sum(weights.values())
    if total < 0 or any(w < 0 for w in weights.values()):
        raise ValueError("allocate takes a non-negative total and weights")
    if whole == 0:
        if total:
            raise ValueError("cannot allocate a positive total over zero weights")
        return dict.fromkeys(weights, 0)
    shares = {k: total * w // whole for k, w in weights.items()}
    order = list(weights)
    by_remainder = sorted(
        order, key=lambda k: (-(total * weights[k] % whole), -weights[k], order.index(k))
    )
    for k in by_remainder[: total - sum(shares.values())]:
        shares[k] += 1
    return shares
