"""Every export on the demo district, read back from the file it makes: the rows are what
the database holds, the filters filter, and the member list goes back in unchanged."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.settings import PROJECT_ROOT
from bot.workbook import DATE_FORMAT, DATETIME_FORMAT, PERCENT_FORMAT, write_csv, write_xlsx
from models import unit_import
from models.enums import Language, LedgerStage, MeetingKind, ReportKind, UnitStatus, VenueType
from models.exports import ExportKind, build_sheets, parse_period
from models.ledger import advance_stage
from models.meetings import MeetingInput, save_meeting
from models.member_import import Issue, read_table, review
from models.members import Duplicate, MemberSource, NewMember, register_member
from models.plan import load_plan
from models.reports import ReportField, draft_figures, submit_report
from models.status import street_rows
from models.tables import LedgerEntry, Member, Street, Unit

PLAN = load_plan(PROJECT_ROOT / "plans" / "fangshan-2018.toml")
TODAY = date(2018, 3, 15)
NOW = datetime(2018, 3, 15, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
GONGCHEN, LIANGXIANG = "拱辰街道", "良乡镇"
OFFICER = 20001


@pytest.fixture
def db(demo_db: Database) -> Database:
    return demo_db


async def street_id(session: AsyncSession, name: str) -> int:
    found = (await session.exec(select(Street.id).where(Street.name == name))).one()
    assert found is not None
    return found


async def export(
    db: Database, kind: ExportKind, *, street: str | None = None, period: str | None = None,
    lang: Language = Language.ZH, as_csv: bool = False,
) -> bytes:  # fmt: skip
    async with db.session() as session:
        sheets = await build_sheets(
            kind, session=session, plan=PLAN, today=TODAY,
            street_id=await street_id(session, street) if street else None,
            period=parse_period(period) if period else None,
        )  # fmt: skip
    out = io.BytesIO()
    if as_csv:
        write_csv(sheets[0], lang=lang, zone=PLAN.zone, out=out)
    else:
        write_xlsx(sheets, lang=lang, zone=PLAN.zone, out=out)
    return out.getvalue()


def worksheet(data: bytes) -> Any:
    ws = load_workbook(io.BytesIO(data)).active
    assert ws is not None
    return ws


def values(data: bytes) -> list[tuple[object, ...]]:
    return list(worksheet(data).iter_rows(values_only=True))


def as_text(cell: object) -> str:
    if isinstance(cell, datetime):
        return (
            f"{cell:%Y-%m-%d}" if cell.time() == datetime.min.time() else f"{cell:%Y-%m-%d %H:%M}"
        )
    return "" if cell is None else str(cell)


# --- the ledger ---------------------------------------------------------------------------


async def test_the_ledger_of_a_street_and_of_the_district(db: Database) -> None:
    async with db.session() as session:
        own = await street_id(session, GONGCHEN)
        entries = (await session.exec(select(LedgerEntry).where(LedgerEntry.street_id == own)
                                      .order_by(col(LedgerEntry.id)))).all()  # fmt: skip
        everywhere = (await session.exec(select(func.count()).select_from(LedgerEntry))).one()
    moved = entries[0].unit_id
    async with db.session(write=True) as session:
        assert await advance_stage(session=session, unit_id=moved, to=LedgerStage.LETTER_ISSUED,
                                   by_user_id=OFFICER, now=NOW, today=TODAY) is None  # fmt: skip

    data = await export(db, ExportKind.LEDGER, street=GONGCHEN)
    ws = worksheet(data)
    assert ws.title == "台账" and ws.freeze_panes == "A2"
    header, *rows = values(data)
    assert header == ("所属街乡", "单位名称", "统一社会信用代码", "个税人数", "当前阶段", "状态",
                      "挂账日期", "摸底走访日期", "发函日期", "两审两批日期", "会员系统采集日期",
                      "法人证日期", "出账日期", "原因")  # fmt: skip
    assert len(rows) == len(entries) > 0
    assert {r[0] for r in rows} == {GONGCHEN}
    # Every entry's date of reaching the survey stage is the baseline day, as a real date.
    assert ws["G2"].value == datetime(2018, 2, 28) and ws["G2"].number_format == DATE_FORMAT
    assert ws["H2"].value == datetime(2018, 2, 28) and ws["H2"].number_format == DATE_FORMAT
    async with db.session() as session:
        code = (await session.exec(select(Unit.credit_code).where(Unit.id == moved))).one()
    [row] = [r for r in rows if r[2] == code]
    assert row[4:6] == ("已发组建函", "挂账中")
    assert row[8] == datetime(2018, 3, 15) and row[9] is None

    district = values(await export(db, ExportKind.LEDGER))
    assert len(district) - 1 == everywhere == 204
    # Widths are set and never narrower than a heading.
    assert ws.column_dimensions["B"].width == 36 and ws.column_dimensions["K"].width == 18


async def test_a_csv_holds_the_same_rows_as_the_workbook(db: Database) -> None:
    xlsx = values(await export(db, ExportKind.LEDGER, street=GONGCHEN))
    data = await export(db, ExportKind.LEDGER, street=GONGCHEN, as_csv=True)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [[as_text(cell) for cell in row] for row in xlsx]


# --- meetings -----------------------------------------------------------------------------


async def add_meetings(db: Database) -> None:
    """Three meetings: two in March (拱辰, 良乡), one in February (拱辰)."""
    async with db.session(write=True) as session:
        own, other = await street_id(session, GONGCHEN), await street_id(session, LIANGXIANG)
        for street, kind, held, place, people, notes in [
            (own, MeetingKind.WORKER, date(2018, 3, 5), "拱辰社区", 45, "发放入会申请"),
            (other, MeetingKind.WORKER, date(2018, 3, 8), "良乡工地", 30, None),
            (own, MeetingKind.ENTERPRISE, date(2018, 2, 10), "拱辰大厦", 20, None),
        ]:
            meeting = MeetingInput(kind=kind, held_on=held, street_id=street, attendees=people,
                                   new_members=5, venue_type=VenueType.COMMUNITY, place=place,
                                   notes=notes)  # fmt: skip
            await save_meeting(session=session, meeting=meeting, by_user_id=OFFICER, now=NOW)


async def test_meetings_by_street_and_period(db: Database) -> None:
    await add_meetings(db)
    data = await export(db, ExportKind.MEETINGS, street=GONGCHEN, period="2018-03")
    ws = worksheet(data)
    header, *rows = values(data)
    assert header == ("所属街乡", "日期", "会议类型", "地点", "场所类型", "参加人数",
                      "新入会人数", "备注", "登记时间")  # fmt: skip
    assert rows == [(GONGCHEN, datetime(2018, 3, 5), "职工沟通会", "拱辰社区", "社区", 45, 5,
                     "发放入会申请", datetime(2018, 3, 15, 10, 0))]  # fmt: skip
    assert ws["B2"].number_format == DATE_FORMAT and ws["I2"].number_format == DATETIME_FORMAT
    assert len(values(await export(db, ExportKind.MEETINGS, period="2018-03"))) - 1 == 2
    assert len(values(await export(db, ExportKind.MEETINGS, period="2018-Q1"))) - 1 == 3
    assert len(values(await export(db, ExportKind.MEETINGS))) - 1 == 3
    assert len(values(await export(db, ExportKind.MEETINGS, period="2018-02-11..2018-03-31"))) == 3
    assert len(values(await export(db, ExportKind.MEETINGS, street=LIANGXIANG))) - 1 == 1


# --- reports ------------------------------------------------------------------------------


async def submit(db: Database, street: str, at: datetime, period: str = "2018-03") -> None:
    async with db.session(write=True) as session:
        sid = await street_id(session, street)
        figures = await draft_figures(session=session, street_id=sid, kind=ReportKind.MONTHLY,
                                      period=period, zone=PLAN.zone)  # fmt: skip
        done = await submit_report(
            session=session, street_id=sid, kind=ReportKind.MONTHLY, period=period,
            figures=figures, answers={ReportField.DIFFICULTIES: f"{street}的难点"},
            by_user_id=OFFICER, now=at,
        )  # fmt: skip
    assert not isinstance(done, str)


async def test_a_months_reports_every_street_included(db: Database) -> None:
    await add_meetings(db)
    await submit(db, GONGCHEN, NOW)
    await submit(db, LIANGXIANG, datetime(2018, 3, 20, 3, 0, tzinfo=UTC))  # the 20th: late
    data = await export(db, ExportKind.REPORTS, period="2018-03")
    header, *rows = values(data)
    assert len(rows) == 28
    assert header[:7] == ("所属街乡", "报告期", "报送情况", "提交时间", "更正时间", "已关闭",
                          "职工沟通会（场）")  # fmt: skip
    assert header[-2:] == ("重点难点问题", "补充说明") and "建会工作案例" not in header
    by_street = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    own = by_street[GONGCHEN]
    assert own["报送情况"] == "按时报送" and own["提交时间"] == datetime(2018, 3, 15, 10, 0)
    assert own["职工沟通会（场）"] == 1 and own["职工沟通会参加人数"] == 45
    assert own["已关闭"] == "否" and own["重点难点问题"] == f"{GONGCHEN}的难点"
    assert by_street[LIANGXIANG]["报送情况"] == "逾期报送"
    missing = by_street["城关街道"]
    assert missing["报送情况"] == "未报送" and missing["提交时间"] is None
    assert missing["职工沟通会（场）"] is None

    only = values(await export(db, ExportKind.REPORTS, street=GONGCHEN, period="2018-03"))
    assert [row[0] for row in only[1:]] == [GONGCHEN]
    quarter = values(await export(db, ExportKind.REPORTS, period="2018-Q1"))
    assert "建会工作案例" in quarter[0] and {row[2] for row in quarter[1:]} == {"未报送"}


# --- the ranking --------------------------------------------------------------------------


async def test_the_ranking_is_the_status_ranking(db: Database) -> None:
    async with db.session() as session:
        ranking = await street_rows(session=session, plan=PLAN, today=TODAY)
    data = await export(db, ExportKind.RANKING)
    ws = worksheet(data)
    header, *rows = values(data)
    assert header[:6] == ("名次", "所属街乡", "分配任务（家）", "新建会（家）", "尚差（家）",
                          "任务完成率")  # fmt: skip
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        (place, s.name, s.share, s.remaining) for place, s in enumerate(ranking, 1)]  # fmt: skip
    assert ws["F2"].number_format == PERCENT_FORMAT and ws["I2"].number_format == PERCENT_FORMAT
    assert sum(r[2] for r in rows) == 91  # type: ignore[misc]
    assert {r[-1] for r in rows} <= {"按进度", "建会落后", "沟通会落后", "建会、沟通会均落后"}
    one = values(await export(db, ExportKind.RANKING, street=GONGCHEN))
    place = next(i for i, s in enumerate(ranking, 1) if s.name == GONGCHEN)
    assert [(r[0], r[1]) for r in one[1:]] == [(place, GONGCHEN)]


# --- units --------------------------------------------------------------------------------

UNIT_HEADINGS = ("单位名称", "统一社会信用代码", "所属街乡", "个税人数", "社保人数", "会员人数",
                 "所有制", "重点园区", "税务代收未采集")  # fmt: skip
UNIT_HEADINGS_EN = ("Unit name", "Credit code", "Street", "Tax headcount",
                    "Social security headcount", "Members", "Ownership", "Zone",
                    "Dues paid, not collected")  # fmt: skip


async def test_the_units_of_a_street_active_ones_only(db: Database) -> None:
    async with db.session(write=True) as session:
        own = await street_id(session, GONGCHEN)
        units = (await session.exec(select(Unit).where(Unit.street_id == own)
                                    .order_by(col(Unit.id)))).all()  # fmt: skip
        gone = units[0]
        gone.status = UnitStatus.CLOSED
        session.add(gone)
    data = await export(db, ExportKind.UNITS, street=GONGCHEN)
    header, *rows = values(data)
    assert header == UNIT_HEADINGS
    assert len(rows) == len(units) - 1 and gone.credit_code not in {r[1] for r in rows}
    by_code = {r[1]: r for r in rows}
    for unit in units[1:]:
        assert by_code[unit.credit_code][:6] == (
            unit.name, unit.credit_code, GONGCHEN, unit.tax_headcount,
            unit.social_security_headcount, unit.member_count)  # fmt: skip
        assert by_code[unit.credit_code][8] == ("是" if unit.dues_paid_uncollected else "否")
    assert {r[6] for r in rows} <= {"非公有制", "国有", "集体", "事业单位", "机关", "社会组织"}
    english = values(await export(db, ExportKind.UNITS, street=GONGCHEN, lang=Language.EN))
    assert english[0] == UNIT_HEADINGS_EN


async def test_every_unit_of_the_district(db: Database) -> None:
    assert len(values(await export(db, ExportKind.UNITS))) - 1 == 15_099


# --- members: the round trip --------------------------------------------------------------


async def add_members(db: Database) -> list[Member]:
    """Three members: two of 拱辰 (one at a unit), joined in March; one of 良乡 in February."""
    added = []
    async with db.session(write=True) as session:
        own, other = await street_id(session, GONGCHEN), await street_id(session, LIANGXIANG)
        unit = (await session.exec(select(Unit.id).where(Unit.street_id == own)
                                   .order_by(col(Unit.id)))).first()  # fmt: skip
        for name, mobile, street, joined, at in [
            ("张三", "13812345678", own, date(2018, 3, 1), unit),
            ("李四", "13912345678", own, date(2018, 3, 10), None),
            ("王五", "13712345678", other, date(2018, 2, 20), None),
        ]:
            member = await register_member(
                session=session, plan=PLAN, by_user_id=OFFICER, now=NOW,
                source=MemberSource.OFFICER,
                member=NewMember(name=name, mobile=mobile, street_id=street, joined_on=joined,
                                 unit_id=at),
            )  # fmt: skip
            assert not isinstance(member, Duplicate)
            added.append(member)
    return added


@pytest.mark.parametrize(("lang", "as_csv"), [(Language.ZH, False), (Language.EN, False),
                                              (Language.ZH, True)])  # fmt: skip
async def test_members_exported_go_back_in_unchanged(
    db: Database, lang: Language, as_csv: bool
) -> None:
    members = await add_members(db)
    data = await export(db, ExportKind.MEMBERS, lang=lang, as_csv=as_csv)
    table = read_table(data, "members.csv" if as_csv else "members.xlsx")
    assert len(table.rows) == len(members)
    async with db.session() as session:
        report = await review(session=session, table=table, street_id=None, own_street_id=None,
                              today=TODAY)  # fmt: skip
        count = (await session.exec(select(func.count()).select_from(Member))).one()
    # Every row is somebody who is a member already: nothing would be written.
    assert report.good == []
    assert {p.row for p in report.problems if p.issue is Issue.MOBILE_MEMBER} == {2, 3, 4}
    assert {p.issue for p in report.problems} == {Issue.MOBILE_MEMBER}  # no other complaint
    assert count == 3


async def test_members_by_street_and_the_day_they_joined(db: Database) -> None:
    await add_members(db)
    data = await export(db, ExportKind.MEMBERS, street=GONGCHEN, period="2018-03")
    ws = worksheet(data)
    header, *rows = values(data)
    assert header == ("姓名", "手机号码", "单位名称", "所属街乡", "入会日期", "登记方式")
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows] == [
        ("张三", "13812345678", GONGCHEN, datetime(2018, 3, 1), "干部登记"),
        ("李四", "13912345678", GONGCHEN, datetime(2018, 3, 10), "干部登记"),
    ]  # fmt: skip
    assert rows[0][2] is not None and rows[1][2] is None
    assert ws["E2"].number_format == DATE_FORMAT
    assert len(values(await export(db, ExportKind.MEMBERS, period="2018-02"))) - 1 == 1
    assert len(values(await export(db, ExportKind.MEMBERS, period="2018-04"))) - 1 == 0


@pytest.mark.parametrize(("lang", "as_csv"), [(Language.ZH, False), (Language.EN, True)])
async def test_units_exported_go_back_in_unchanged(
    db: Database, lang: Language, as_csv: bool
) -> None:
    data = await export(db, ExportKind.UNITS, street=GONGCHEN, lang=lang, as_csv=as_csv)
    table = unit_import.read_sheet(data, "units.csv" if as_csv else "units.xlsx")
    assert unit_import.kinds_of(table)[0] is unit_import.ImportKind.UNITS
    async with db.session() as session:
        facts = await unit_import.load_facts(session=session)
    review = unit_import.check(table, unit_import.ImportKind.UNITS, facts, today=TODAY)
    assert review.problems == [] and review.good_rows == len(table.rows)
    assert unit_import.plan_changes(review, facts, today=TODAY).nothing
