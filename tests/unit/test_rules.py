"""The plan's rules as tables, boundaries included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.settings import PROJECT_ROOT
from models.plan import load_plan
from models.rules import (
    allocate,
    days_to_deadline,
    is_past_deadline,
    is_unionised,
    meetings_remaining,
    rate_percent,
    remaining_units_to_unionise,
    responsibility_tier,
    size_band,
    units_needed_for_rate,
)

PLAN = load_plan(PROJECT_ROOT / "plans" / "fangshan-2018.toml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNIONISE = PLAN.targets.unionise_100_plus


@pytest.mark.parametrize(
    ("headcount", "band"),
    [
        (0, None),
        (99, None),
        (100, "100-499"),
        (499, "100-499"),
        (500, "500-999"),  # "500人（含）至1000人": 500 belongs to the upper band
        (501, "500-999"),
        (999, "500-999"),
        (1000, "1000+"),
        (5000, "1000+"),
        (5001, "1000+"),
        (250_000, "1000+"),
    ],
)
def test_size_band(headcount: int, band: str | None) -> None:
    found = size_band(headcount, PLAN.size_bands)
    assert (found.key if found else None) == band


@pytest.mark.parametrize(
    ("headcount", "tier", "levels"),
    [
        (99, "street", ["street"]),
        (100, "street", ["street"]),
        (499, "street", ["street"]),
        (500, "street", ["street"]),  # "500（含）人以下": the street alone
        (501, "district_street", ["district", "street"]),
        (999, "district_street", ["district", "street"]),
        (1000, "district_street", ["district", "street"]),
        (5000, "district_street", ["district", "street"]),  # "5000（含）人以下"
        (5001, "city_district_street", ["city", "district", "street"]),
    ],
)
def test_responsibility_tier(headcount: int, tier: str, levels: list[str]) -> None:
    found = responsibility_tier(headcount, PLAN.responsibility_tiers)
    assert (found.key, found.levels) == (tier, levels)


def test_500_is_in_the_upper_band_but_led_by_the_street_alone() -> None:
    band = size_band(500, PLAN.size_bands)
    assert band is not None and band.key == "500-999"
    assert responsibility_tier(500, PLAN.responsibility_tiers).key == "street"


@pytest.mark.parametrize(
    ("collected", "certified", "unionised"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
def test_unionised_needs_both_completion_conditions(
    collected: bool, certified: bool, unionised: bool
) -> None:
    assert (
        is_unionised(member_system_collected=collected, legal_person_certified=certified)
        is unionised
    )


@pytest.mark.parametrize(
    ("total", "unionised", "needed"),
    [
        (390, 186, 21),  # the baseline: ceil(0.53 × 390) = 207; 207 − 186
        (390, 207, 0),
        (390, 206, 1),
        (390, 300, 0),  # never negative
        (100, 52, 1),  # exactly 53.00: no float error may turn it into 54
        (100, 53, 0),
        (1, 0, 1),
        (0, 0, 0),
    ],
)
def test_units_needed_for_the_rate(total: int, unionised: int, needed: int) -> None:
    assert (
        units_needed_for_rate(total=total, unionised=unionised, min_rate=UNIONISE.min_rate)
        == needed
    )


@pytest.mark.parametrize(
    ("total", "unionised", "new", "min_new", "rate_rule", "count_rule", "overall"),
    [
        (390, 186, 0, 91, 21, 91, 91),  # the district at the baseline: 91 remain
        (390, 250, 64, 91, 0, 27, 27),
        (390, 277, 91, 91, 0, 0, 0),
        (390, 277, 95, 91, 0, 0, 0),
        (20, 2, 0, 3, 9, 3, 9),  # a street where the rate needs more than its share
        (10, 6, 1, 2, 0, 1, 1),
    ],
)
def test_remaining_is_the_larger_of_the_two_rules(
    total: int,
    unionised: int,
    new: int,
    min_new: int,
    rate_rule: int,
    count_rule: int,
    overall: int,
) -> None:
    remaining = remaining_units_to_unionise(
        total=total,
        unionised=unionised,
        newly_unionised=new,
        min_rate=UNIONISE.min_rate,
        min_new_units=min_new,
    )
    assert (remaining.rate_rule, remaining.count_rule, remaining.overall) == (
        rate_rule,
        count_rule,
        overall,
    )


@pytest.mark.parametrize(("held", "left"), [(0, 12), (11, 1), (12, 0), (20, 0)])
def test_meetings_remaining(held: int, left: int) -> None:
    assert meetings_remaining(held=held, per_street=PLAN.targets.worker_meetings.per_street) == left


@pytest.mark.parametrize(
    ("now_utc", "days", "past"),
    [
        (datetime(2018, 3, 15, 2, 0, tzinfo=UTC), 229, False),
        # 2018-10-30 00:00 Shanghai is 10-29 16:00 UTC: the deadline day itself
        (datetime(2018, 10, 29, 15, 59, tzinfo=UTC), 1, False),
        (datetime(2018, 10, 29, 16, 0, tzinfo=UTC), 0, False),
        # 23:59 on the 30th in Shanghai is the deadline's last minute: still in time
        (datetime(2018, 10, 30, 15, 59, 59, tzinfo=UTC), 0, False),
        # 24:00 on the 30th = 00:00 on the 31st in Shanghai: past
        (datetime(2018, 10, 30, 16, 0, tzinfo=UTC), -1, True),
        (datetime(2018, 11, 5, 0, 0, tzinfo=UTC), -6, True),
    ],
)
def test_days_to_the_unionising_deadline(now_utc: datetime, days: int, past: bool) -> None:
    deadline = UNIONISE.deadline
    assert deadline == date(2018, 10, 30)
    assert days_to_deadline(now_utc, deadline, SHANGHAI) == days
    assert is_past_deadline(now_utc, deadline, SHANGHAI) is past


def test_deadline_rules_refuse_a_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        days_to_deadline(datetime(2018, 10, 30), UNIONISE.deadline, SHANGHAI)


def test_meetings_deadline_last_minute() -> None:
    deadline = PLAN.targets.worker_meetings.deadline
    last_minute = datetime(2018, 11, 30, 23, 59, tzinfo=SHANGHAI)
    assert not is_past_deadline(last_minute, deadline, SHANGHAI)
    assert is_past_deadline(datetime(2018, 12, 1, 0, 0, tzinfo=SHANGHAI), deadline, SHANGHAI)


@pytest.mark.parametrize(
    ("part", "whole", "percent"),
    [
        (2428, 15099, "16.08"),
        (101240, 259051, "39.08"),
        (186, 390, "47.69"),
        (207, 390, "53.08"),
        (0, 0, "0.00"),
        (1, 3, "33.33"),
        (2, 3, "66.67"),
    ],
)
def test_rate_percent_as_the_plan_writes_it(part: int, whole: int, percent: str) -> None:
    assert rate_percent(part, whole) == Decimal(percent)


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (91, {"a": 1, "b": 1, "c": 1}, {"a": 31, "b": 30, "c": 30}),
        (10, {"a": 5, "b": 3, "c": 2}, {"a": 5, "b": 3, "c": 2}),
        (3, {"a": 1, "b": 2, "c": 0}, {"a": 1, "b": 2, "c": 0}),
        (1, {"a": 1, "b": 1}, {"a": 1, "b": 0}),
        (0, {"a": 0}, {"a": 0}),
    ],
)
def test_allocate_splits_exactly(
    total: int, weights: dict[str, int], shares: dict[str, int]
) -> None:
    assert allocate(total, weights) == shares
    assert sum(allocate(total, weights).values()) == total


def test_the_plans_own_figures_are_consistent_with_the_rules() -> None:
    base = PLAN.baseline
    assert rate_percent(base.unionised_units, base.target_units) == base.unionised_rate_percent
    assert rate_percent(base.members, base.workers) == base.member_coverage_percent
    assert rate_percent(base.units_100_plus_unionised, base.units_100_plus) == (
        base.units_100_plus_rate_percent
    )
    assert sum(base.detail_table_by_band.values()) == base.detail_table_units == 198
