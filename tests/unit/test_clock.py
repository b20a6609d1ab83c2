"""BOT_TODAY pins the business date in the plan's zone; the time of day keeps moving."""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

from bot.clock import Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_fixed_day_is_the_business_date_in_the_plans_zone() -> None:
    clock = Clock(SHANGHAI, date(2018, 10, 30))
    now = clock.now()
    assert now.tzinfo is UTC
    assert now.astimezone(SHANGHAI).date() == date(2018, 10, 30)
    assert clock.today() == date(2018, 10, 30)


def test_without_a_fixed_day_the_clock_is_real() -> None:
    clock = Clock(SHANGHAI)
    assert clock.now().year >= 2024
    assert clock.today() == clock.now().astimezone(SHANGHAI).date()
