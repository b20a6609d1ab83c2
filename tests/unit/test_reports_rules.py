"""Report periods, due days, answers and the figures' stored shape: pure rules, no database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.report_view import answer_lines, chunks, plain
from models.enums import Language, LedgerStage, MeetingKind, ReportKind
from models.plan import load_plan
from models.reports import (
    AnswerProblem,
    MeetingFigures,
    ReportField,
    ReportFigures,
    answer_problem,
    due_before,
    kind_of_period,
    month_period,
    month_range,
    period_range,
    quarter_period,
    quarter_range,
    quarterly_due_this_month,
    report_fields,
    shift_period,
    skippable,
    utc_bounds,
    valid_period,
)

PLAN = load_plan(Path(__file__).resolve().parents[2] / "plans" / "fangshan-2018.toml")
MONTHLY, QUARTERLY = ReportKind.MONTHLY, ReportKind.QUARTERLY


@pytest.mark.parametrize(
    ("day", "month", "quarter"),
    [
        (date(2018, 1, 1), "2018-01", "2018-Q1"),
        (date(2018, 3, 31), "2018-03", "2018-Q1"),
        (date(2018, 4, 1), "2018-04", "2018-Q2"),
        (date(2018, 9, 30), "2018-09", "2018-Q3"),
        (date(2018, 12, 31), "2018-12", "2018-Q4"),
    ],
)
def test_periods_of_a_day(day: date, month: str, quarter: str) -> None:
    assert (month_period(day), quarter_period(day)) == (month, quarter)


def test_period_ranges_cover_whole_months_and_quarters() -> None:
    assert month_range("2018-02") == (date(2018, 2, 1), date(2018, 2, 28))
    assert month_range("2016-02") == (date(2016, 2, 1), date(2016, 2, 29))
    assert month_range("2018-12") == (date(2018, 12, 1), date(2018, 12, 31))
    assert quarter_range("2018-Q1") == (date(2018, 1, 1), date(2018, 3, 31))
    assert quarter_range("2018-Q4") == (date(2018, 10, 1), date(2018, 12, 31))
    assert period_range(QUARTERLY, "2018-Q2") == (date(2018, 4, 1), date(2018, 6, 30))


@pytest.mark.parametrize("bad", ["2018-13", "2018-00", "2018-3", "18-03", "2018-Q5", "2018-Q0", ""])
def test_malformed_periods_are_refused(bad: str) -> None:
    assert kind_of_period(bad) is None
    with pytest.raises(ValueError, match="period"):
        month_range(bad)
    with pytest.raises(ValueError, match="period"):
        quarter_range(bad)


def test_a_period_names_its_kind() -> None:
    assert kind_of_period("2018-03") is MONTHLY
    assert kind_of_period("2018-Q1") is QUARTERLY
    assert valid_period(MONTHLY, "2018-03") and not valid_period(MONTHLY, "2018-Q1")


@pytest.mark.parametrize(
    ("kind", "period", "steps", "expected"),
    [
        (MONTHLY, "2018-03", -1, "2018-02"),
        (MONTHLY, "2018-01", -1, "2017-12"),
        (MONTHLY, "2018-12", 1, "2019-01"),
        (MONTHLY, "2018-03", 12, "2019-03"),
        (QUARTERLY, "2018-Q1", -1, "2017-Q4"),
        (QUARTERLY, "2018-Q4", 1, "2019-Q1"),
        (QUARTERLY, "2018-Q2", 2, "2018-Q4"),
    ],
)
def test_shifting_periods(kind: ReportKind, period: str, steps: int, expected: str) -> None:
    assert shift_period(kind, period, steps) == expected


@pytest.mark.parametrize(
    ("day", "due"),
    [(date(2018, 3, 15), True), (date(2018, 6, 1), True), (date(2018, 4, 30), False),
     (date(2018, 2, 20), False), (date(2018, 12, 31), True)],
)  # fmt: skip
def test_the_quarterly_report_is_due_in_the_quarters_last_month(day: date, due: bool) -> None:
    assert PLAN.reporting.quarterly.due_month_of_quarter == 3
    assert quarterly_due_this_month(PLAN, day) is due


def test_due_days_come_from_the_plan() -> None:
    assert due_before(PLAN, MONTHLY, "2018-03") == date(2018, 3, 20)
    assert due_before(PLAN, QUARTERLY, "2018-Q1") == date(2018, 3, 20)
    assert due_before(PLAN, QUARTERLY, "2018-Q4") == date(2018, 12, 20)


def test_a_period_in_utc_starts_at_midnight_in_beijing() -> None:
    start, end = utc_bounds(MONTHLY, "2018-03", ZoneInfo("Asia/Shanghai"))
    assert start == datetime(2018, 2, 28, 16, 0, tzinfo=UTC)
    assert end == datetime(2018, 3, 31, 16, 0, tzinfo=UTC)
    start, end = utc_bounds(QUARTERLY, "2018-Q1", ZoneInfo("Asia/Shanghai"))
    assert (start, end) == (datetime(2017, 12, 31, 16, tzinfo=UTC), end)


def test_what_each_kind_asks_and_what_may_be_skipped() -> None:
    assert report_fields(MONTHLY) == (ReportField.DIFFICULTIES, ReportField.NOTES)
    assert report_fields(QUARTERLY) == (
        ReportField.CASES, ReportField.PUBLIC_OPINION, ReportField.EXPERIENCE,
        ReportField.DIFFICULTIES, ReportField.NOTES,
    )  # fmt: skip
    assert [f for f in ReportField if not skippable(f)] == [ReportField.DIFFICULTIES]


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        (ReportField.DIFFICULTIES, "   ", AnswerProblem.EMPTY),
        (ReportField.DIFFICULTIES, "难" * 4000, None),
        (ReportField.DIFFICULTIES, "难" * 4001, AnswerProblem.TOO_LONG),
        (ReportField.NOTES, "补" * 2000, None),
        (ReportField.NOTES, "补" * 2001, AnswerProblem.TOO_LONG),
        (ReportField.CASES, "  一个案例  ", None),
    ],
)
def test_answers_are_checked(field: ReportField, text: str, problem: AnswerProblem | None) -> None:
    assert answer_problem(field, text) is problem


def test_figures_survive_a_round_trip_through_json() -> None:
    figures = ReportFigures(
        meetings=tuple(
            MeetingFigures(k, 2, 75, 12) if k is MeetingKind.WORKER else MeetingFigures(k)
            for k in MeetingKind
        ),
        unit_visits=3, units_visited=2,
        ledger_moves=tuple((s, 1 if s is LedgerStage.LETTER_ISSUED else 0) for s in LedgerStage),
        written_off=1, obstructed=0, departed=0, members_registered=4,
    )  # fmt: skip
    stored = json.loads(json.dumps(figures.as_json()))
    assert stored["meetings"]["worker"] == {"count": 2, "attendees": 75, "new_members": 12}
    assert ReportFigures.from_json(stored) == figures
    # A body from before these figures existed reads as zeros, not as an error.
    empty = ReportFigures.from_json({"new_unions": 3})
    assert empty.unit_visits == 0 and all(m.count == 0 for m in empty.meetings)


def test_long_answers_are_split_into_messages_that_fit() -> None:
    answers: dict[ReportField, str | None] = {
        ReportField.DIFFICULTIES: "<难>" * 1300,  # 3,900 characters, escaped to more
        ReportField.NOTES: "line one\nline two",
    }
    lines = answer_lines(MONTHLY, answers, Language.ZH, short=False)
    messages = chunks(lines)
    assert len(messages) > 1 and all(len(m) <= 3500 for m in messages)
    assert "<难>" * 1300 in plain("".join(messages).replace("\n", ""))
    card = answer_lines(MONTHLY, answers, Language.ZH, short=True)
    assert card[1].endswith("…") and len(plain(card[1])) == 301
