"""Who may export what, what a period is, and how an export's file is named."""

from __future__ import annotations

from datetime import date

import pytest

from bot.exporting import ExportFormat, file_stem, files_for, period_text
from handlers.exports import period_choices
from models.enums import Language, Role
from models.exports import (
    OFFICER_KINDS,
    ExportKind,
    Period,
    kinds_for,
    may_export,
    month_of,
    parse_period,
    period_fits,
    quarter_of,
    year_of,
)
from models.tabular import Sheet

OWN, OTHER = 7, 8


@pytest.mark.parametrize("kind", list(ExportKind))
def test_a_district_admin_exports_everything_for_any_street_or_all(kind: ExportKind) -> None:
    for street in (None, OWN, OTHER):
        assert may_export(role=Role.DISTRICT_ADMIN, own_street_id=None, kind=kind,
                          street_id=street)  # fmt: skip


@pytest.mark.parametrize("kind", list(ExportKind))
def test_a_street_officer_exports_their_own_streets_ledger_meetings_reports_comparison(
    kind: ExportKind,
) -> None:
    def may(street: int | None) -> bool:
        return may_export(role=Role.STREET_OFFICER, own_street_id=OWN, kind=kind, street_id=street)

    own_kind = kind in (
        ExportKind.LEDGER, ExportKind.MEETINGS, ExportKind.REPORTS, ExportKind.COMPARISON,
    )  # fmt: skip
    assert may(OWN) is own_kind
    assert not may(OTHER) and not may(None)  # never another street, never the district


@pytest.mark.parametrize("role", [Role.COMMUNITY_WORKER, None])
def test_nobody_else_exports_anything(role: Role | None) -> None:
    for kind in ExportKind:
        for street in (None, OWN):
            assert not may_export(role=role, own_street_id=OWN, kind=kind, street_id=street)
    assert kinds_for(role=role, own_street_id=OWN) == []


def test_members_and_the_ranking_stay_with_the_admins() -> None:
    assert ExportKind.MEMBERS not in OFFICER_KINDS and ExportKind.RANKING not in OFFICER_KINDS
    own = [ExportKind.LEDGER, ExportKind.MEETINGS, ExportKind.REPORTS, ExportKind.COMPARISON]
    assert kinds_for(role=Role.STREET_OFFICER, own_street_id=OWN) == own
    assert kinds_for(role=Role.STREET_OFFICER, own_street_id=None) == []
    assert kinds_for(role=Role.DISTRICT_ADMIN, own_street_id=None) == list(ExportKind)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2018-03", date(2018, 3, 1), date(2018, 3, 31)),
        ("2018-02", date(2018, 2, 1), date(2018, 2, 28)),
        ("2018-Q1", date(2018, 1, 1), date(2018, 3, 31)),
        ("2018-Q4", date(2018, 10, 1), date(2018, 12, 31)),
        ("2018", date(2018, 1, 1), date(2018, 12, 31)),
        (" 2018-03-01..2018-05-31 ", date(2018, 3, 1), date(2018, 5, 31)),
        ("2018-03-05..2018-03-05", date(2018, 3, 5), date(2018, 3, 5)),
    ],
)
def test_periods(text: str, first: date, last: date) -> None:
    period = parse_period(text)
    assert period is not None and (period.first, period.last) == (first, last)


@pytest.mark.parametrize(
    "text",
    ["2018-13", "2018-Q5", "18-03", "2018-3", "2018/03", "2018-05-31..2018-03-01",
     "2018-02-30..2018-03-01", "last month", "", "2018-03..2018-04"],
)  # fmt: skip
def test_what_is_not_a_period(text: str) -> None:
    assert parse_period(text) is None


def test_periods_around_a_business_day() -> None:
    today = date(2018, 3, 15)
    assert month_of(today).label == "2018-03" and month_of(today, 1).label == "2018-02"
    assert month_of(date(2018, 1, 10), 1).label == "2017-12"
    assert quarter_of(today).label == "2018-Q1" and quarter_of(today, 1).label == "2017-Q4"
    assert quarter_of(date(2018, 8, 31), 1).label == "2018-Q2"
    assert year_of(today) == Period(date(2018, 1, 1), date(2018, 12, 31), "2018")


def test_which_periods_fit_which_kind() -> None:
    month, year = parse_period("2018-03"), parse_period("2018")
    assert period_fits(ExportKind.LEDGER, None) and not period_fits(ExportKind.LEDGER, month)
    assert period_fits(ExportKind.MEETINGS, year) and period_fits(ExportKind.MEMBERS, None)
    assert period_fits(ExportKind.REPORTS, month) and not period_fits(ExportKind.REPORTS, year)
    assert [label for _, label in period_choices(ExportKind.REPORTS, date(2018, 3, 15))] == [
        "2018-03", "2018-02", "2018-Q1", "2017-Q4"]  # fmt: skip
    assert [label for _, label in period_choices(ExportKind.MEETINGS, date(2018, 3, 15))] == [
        "2018-03", "2018-02", "2018-Q1", "2018", "all"]  # fmt: skip


def test_periods_as_people_say_them() -> None:
    def said(text: str | None, lang: Language = Language.ZH) -> str:
        return period_text(None if text is None else parse_period(text), lang)

    assert said("2018-03") == "2018年3月" and said("2018-03", Language.EN) == "3/2018"
    assert said("2018-Q1") == "2018年第1季度" and said("2018") == "2018年"
    assert said("2018-03-01..2018-05-31") == "2018-03-01 至 2018-05-31"
    assert said(None) == "全部时间"


def test_file_names() -> None:
    today = date(2018, 3, 15)
    stem = file_stem(ExportKind.LEDGER, street_name="拱辰街道", period=None, today=today,
                     lang=Language.ZH)  # fmt: skip
    assert stem == "台账_拱辰街道_2018-03-15"
    stem = file_stem(ExportKind.MEETINGS, street_name=None, period=parse_period("2018-Q1"),
                     today=today, lang=Language.EN)  # fmt: skip
    assert stem == "meetings_district_2018-Q1"
    one = [Sheet("export.sheet.ledger", (), [])]
    two = [Sheet("export.sheet.ledger", (), []), Sheet("export.sheet.units", (), [])]
    assert [f.name for f in files_for(two, ExportFormat.XLSX, "x", Language.ZH)] == ["x.xlsx"]
    assert [f.name for f in files_for(one, ExportFormat.CSV, "x", Language.ZH)] == ["x.csv"]
    assert [f.name for f in files_for(two, ExportFormat.CSV, "x", Language.EN)] == [
        "x_Task-ledger.csv", "x_Units.csv"]  # fmt: skip
