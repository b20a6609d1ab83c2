"""Working days in mainland China: weekends and public holidays are off, make-up working days
(调休, a Saturday or Sunday worked in lieu) are on.

The calendar comes from the `chinesecalendar` package, which publishes a release each year
once the State Council announces the next year's holidays (usually in November). For a year
the installed release does not cover yet, weekends alone decide, and `covered()` says so.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

_FIRST, _LAST = 2004, max(d.year for d in chinese_calendar.holidays)


def covered(year: int) -> bool:
    """Whether the installed calendar knows this year's holidays and make-up days."""
    return _FIRST <= year <= _LAST


def is_working_day(day: date) -> bool:
    if covered(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def previous_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the last working day before it."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
